"""Headers every answer carries: HSTS over TLS, no MIME sniffing, and for the dashboard a
content security policy that lets only the appliance's own scripts run and only the registered
vCenter frame it (the vSphere Client shows the plugin's page in a frame)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.domain.platform import Platform

HSTS = (b"strict-transport-security", b"max-age=31536000")
NOSNIFF = (b"x-content-type-options", b"nosniff")
REFERRER = (b"referrer-policy", b"no-referrer")
DASHBOARD_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)


def security_headers(path: str, platform: Platform) -> list[tuple[bytes, bytes]]:
    headers = [NOSNIFF, REFERRER]
    if platform.settings.tls.enabled:
        headers.append(HSTS)
    if path == "/ui" or path.startswith("/ui/"):
        ancestors = "".join(f" {origin}" for origin in sorted(platform.state.cors_origins))
        headers.append((b"content-security-policy", (DASHBOARD_POLICY + ancestors).encode()))
    return headers
