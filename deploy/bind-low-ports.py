"""Gives an executable the file capability `cap_net_bind_service=+ep` (what
`setcap cap_net_bind_service=+ep FILE` writes), so the non-root server can listen on 443.
Run at image build time, as root."""

from __future__ import annotations

import os
import struct
import sys

VFS_CAP_REVISION_2 = 0x02000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
CAP_NET_BIND_SERVICE = 10

if __name__ == "__main__":
    capability = struct.pack(
        "<5I", VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, 1 << CAP_NET_BIND_SERVICE, 0, 0, 0
    )
    os.setxattr(sys.argv[1], "security.capability", capability)
