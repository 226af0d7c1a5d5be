"""Container HEALTHCHECK: GET /api/v1/status over HTTPS with the standard library only."""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("JETDR_PORT", "443")
    # The appliance presents its own (often self-signed) certificate; liveness, not identity.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/api/v1/status", context=context, timeout=2
        ) as response:
            status = json.load(response).get("status")
    except Exception as error:
        print(f"unhealthy: {error}", file=sys.stderr)  # noqa: T201
        return 1
    return 0 if status == "ready" else 1


if __name__ == "__main__":
    sys.exit(main())
