"""Errors become clear answers: JSON for the API, a page for people.

No stack trace ever reaches a user. Unexpected errors are logged with the request
id, and the error page shows the id so support can find the log line.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Empty
from litestar.utils.scope.state import ScopeState

from improve.errors import DomainError, Invalid
from improve.web.auth import CSRF_COOKIE, is_api
from improve.web.requestid import request_id

log = logging.getLogger("improve.errors")

TITLES = {
    400: "That request could not be understood",
    401: "Please log in",
    403: "Not allowed",
    404: "Page not found",
    405: "Not allowed",
    409: "Someone else changed this",
    413: "Too large",
    422: "Please check what you entered",
    429: "Too many requests",
    500: "Something went wrong",
}


def _api(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {"status_code": status, "detail": detail, "request_id": request_id(request.scope)}
    body.update(extra)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _keep_csrf_token(request: Request) -> None:
    """A refused form (or the framework's own 404) never reached the CSRF middleware's
    safe-method branch, so the page would carry no token and its Log out button would be
    refused in turn. Use the browser's cookie, as the middleware does for a GET."""
    state = ScopeState.from_scope(request.scope)
    cookie = request.cookies.get(CSRF_COOKIE)
    if state.csrf_token is Empty and cookie:
        state.csrf_token = cookie


def _page(
    request: Request,
    status: int,
    detail: str,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
):
    _keep_csrf_token(request)
    return Template(
        "errors/error.html",
        headers=headers,
        context={
            "status": status,
            "title": TITLES.get(status, "Error"),
            "detail": detail,
            "errors": errors or {},
            "request_id": request_id(request.scope),
            "viewer": request.scope.get("user"),
        },
        status_code=status,
    )


def _validation_fields(exc: ValidationException) -> dict[str, str]:
    fields: dict[str, str] = {}
    for item in exc.extra or []:
        if isinstance(item, dict):
            fields[str(item.get("key") or item.get("source") or "body")] = str(item.get("message"))
    return fields


def on_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException) and not is_api(request.url.path):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return Redirect(f"/login?next={quote(target)}", status_code=303)
    if isinstance(exc, ValidationException):
        fields = _validation_fields(exc)
        errors = [{"field": k, "message": v} for k, v in fields.items()]
        if is_api(request.url.path):
            return _api(request, status, exc.detail, errors=errors)
        return _page(request, status, "Some of what was sent is not valid.", fields)
    if is_api(request.url.path):
        return _api(request, status, exc.detail)
    return _page(request, status, exc.detail)


def on_domain_error(request: Request, exc: DomainError) -> Response:
    fields = exc.errors if isinstance(exc, Invalid) else None
    retry_after = getattr(exc, "retry_after", None)  # TooMany, Busy
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    if is_api(request.url.path):
        extra = (
            {"errors": [{"field": k, "message": v} for k, v in fields.items()]} if fields else {}
        )
        return _api(request, exc.status_code, str(exc), headers, **extra)
    return _page(request, exc.status_code, str(exc), fields, headers)


def _bad_input(exc: Exception) -> bool:
    """Input the database cannot hold (a number beyond a column's range, a NUL character)
    or a form field that is not UTF-8: the request was bad, not the service."""
    if isinstance(exc, UnicodeDecodeError | OverflowError):
        return True
    try:
        from asyncpg.exceptions import DataError
    except ImportError:  # pragma: no cover (asyncpg is a dependency)
        return False
    return isinstance(exc, DataError)


def on_unexpected(request: Request, exc: Exception) -> Response:
    if _bad_input(exc):
        log.info("bad input refused: %s %s: %r", request.method, request.url.path, exc)
        detail = "Some of what was sent cannot be stored (a value out of range or not text)."
        if is_api(request.url.path):
            return _api(request, 400, detail)
        return _page(request, 400, detail)
    rid = request_id(request.scope)
    log.exception("unhandled error [request %s] %s %s", rid, request.method, request.url.path)
    status = HTTP_500_INTERNAL_SERVER_ERROR
    message = "The error has been logged. Quote the request id if you contact support."
    if is_api(request.url.path):
        return _api(request, status, message)
    try:
        return _page(request, status, message)
    except Exception:  # the error page itself failed: answer in plain text
        return Response(
            f"Something went wrong. Request id: {rid}", status_code=status, media_type="text/plain"
        )


HANDLERS = {
    HTTPException: on_http_exception,
    DomainError: on_domain_error,
    Exception: on_unexpected,
}
