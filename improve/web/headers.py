"""Security headers on every response, including the framework's own 404s."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from improve.web.requestid import request_id

# No inline scripts or styles anywhere: htmx and our CSS are static files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    headers["X-Request-ID"] = request_id(scope)
    if "cache-control" not in headers and not path.startswith("/static"):
        # pages hold personal data: never keep them in shared caches
        headers["Cache-Control"] = "no-store"
