"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from litestar import Response, get

from improve import db


@get("/healthz", include_in_schema=False, opt={"exclude_from_csrf": True})
async def healthz() -> Response:
    """The process is up (no database call)."""
    return Response({"status": "ok"}, media_type="application/json")


@get("/readyz", include_in_schema=False)
async def readyz() -> Response:
    """The process is up and the database answers."""
    if await db.ping():
        return Response({"status": "ready"}, media_type="application/json")
    return Response(
        {"status": "database unavailable"}, status_code=503, media_type="application/json"
    )


ROUTES = [healthz, readyz]
