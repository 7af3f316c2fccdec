"""Who is asking: a session cookie for pages, a Bearer token for the JSON API.

The two never mix: the API ignores cookies (so it needs no CSRF token), and pages
ignore Authorization headers.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from improve.access import Viewer
from improve.accounts import sessions, tokens

CSRF_COOKIE = "improve_csrf"  # the CSRF middleware's cookie; error pages reuse it

# where the request keeps the person's unread notifications, for the menu (base.html)
UNREAD = "improve.unread"

API_PREFIX = "/api/"
ANONYMOUS_PREFIXES = ("/static/", "/healthz", "/readyz")


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIX)


class AuthMiddleware(ASGIMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["path"].startswith(ANONYMOUS_PREFIXES):
            # static files and health checks never need to know who asks: no query
            scope["user"] = None
            await next_app(scope, receive, send)
            return
        connection = ASGIConnection(scope)
        viewer: Viewer | None = None
        if is_api(scope["path"]):
            auth = connection.headers.get("authorization", "")
            scheme, _, credential = auth.partition(" ")
            if scheme.lower() == "bearer" and credential.strip():
                viewer = await tokens.viewer_for(credential.strip())
        else:
            found = await sessions.session_for(connection.cookies.get(sessions.COOKIE_NAME, ""))
            if found:
                viewer, scope[UNREAD] = found  # type: ignore[literal-required]
        scope["user"] = viewer
        await next_app(scope, receive, send)


def current_viewer(scope: Scope) -> Viewer:
    """The logged-in viewer; anonymous requests get 401 (pages redirect to login)."""
    viewer = scope.get("user")
    if viewer is None:
        raise NotAuthorizedException(
            "A valid API token is required (Authorization: Bearer)"
            if is_api(scope["path"])
            else "Log in first"
        )
    return viewer


# The parameter type handlers declare to receive the logged-in viewer.
CurrentViewer = NamedDependency[Viewer]
