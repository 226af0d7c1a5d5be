"""What the appliance hands vCenter: the IO-filter VIB and the plugin manifest.

A VIB is an `ar` archive whose first member is `descriptor.xml`; ours carries a descriptor and a
small payload, enough for a vCenter (or vcsim) to read the name, version and vendor.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from app import PRODUCT_VERSION

IOFILTER_NAME = "jetstream-iofilter"
IOFILTER_VENDOR = "JetStream Software"
IOFILTER_VERSION = f"{PRODUCT_VERSION}-1"
PLUGIN_KEY = "com.jetstream.jetdr"


def vib_file_name(version: str = IOFILTER_VERSION) -> str:
    return f"{IOFILTER_NAME}_{version}.vib"


def appliance_url(address: str, port: int) -> str:
    return f"https://{address}" if port == 443 else f"https://{address}:{port}"


def _ar_member(name: str, data: bytes) -> bytes:
    header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode("ascii")
    return header + data + (b"\n" if len(data) % 2 else b"")


@lru_cache(maxsize=4)
def build_vib(version: str = IOFILTER_VERSION) -> bytes:
    descriptor = f"""<?xml version="1.0" encoding="utf-8"?>
<vib version="5.0">
  <type>bootbank</type>
  <name>{IOFILTER_NAME}</name>
  <version>{version}</version>
  <vendor>{IOFILTER_VENDOR}</vendor>
  <summary>JetStream DR replication IO filter (VAIO)</summary>
  <acceptance-level>vmware_accepted</acceptance-level>
  <system-requires><maintenance-mode>false</maintenance-mode></system-requires>
  <payloads><payload name="jetstream-iofilter" type="vgz"/></payloads>
</vib>
""".encode()
    payload = hashlib.sha256(f"jetstream-iofilter {version}".encode()).digest() * 64
    return b"!<arch>\n" + _ar_member("descriptor.xml", descriptor) + _ar_member("payload", payload)


def plugin_manifest(base_url: str) -> dict[str, object]:
    """A vSphere Client remote-plugin manifest: Datacenter > Configure > JetStream DR."""
    return {
        "manifestVersion": "1.0.0",
        "requirements": {"plugin.api.version": "1.0.0"},
        "configuration": {"nameKey": "plugin.name", "icon": {"name": "main"}},
        "global": {
            "view": {"navigationId": "com.jetstream.jetdr.global", "uri": f"{base_url}/ui/"}
        },
        "objects": {
            "Datacenter": {
                "configure": {
                    "views": [
                        {
                            "navigationId": "com.jetstream.jetdr.configure",
                            "labelKey": "plugin.name",
                            "uri": f"{base_url}/ui/",
                        }
                    ]
                }
            }
        },
        "definitions": {
            "i18n": {
                "locales": ["en-US"],
                "defaultLocale": "en-US",
                "bundles": {"en-US": {"plugin.name": "JetStream DR"}},
            },
            "iconSpriteSheet": {"definitions": {"main": {"x": 0, "y": 0}}},
        },
        "key": PLUGIN_KEY,
        "version": PRODUCT_VERSION,
    }
