"""Personal API tokens: shown once at creation, stored as SHA-256, revocable."""

from __future__ import annotations

import secrets
from typing import Any

from improve import clock
from improve.access import Viewer, viewer_columns, viewer_from_row
from improve.accounts.people import clean_name
from improve.accounts.sessions import token_hash
from improve.accounts.tables import ApiToken
from improve.errors import NotFound

PREFIX = "imp_"
# last_used_at is written at most this often per token, not on every request
_TOUCH_SECONDS = 300

TOKEN_COLUMNS = (
    ApiToken.id,
    ApiToken.name,
    ApiToken.prefix,
    ApiToken.created_at,
    ApiToken.last_used_at,
    ApiToken.revoked_at,
)


async def create(viewer: Viewer, name: str) -> tuple[dict[str, Any], str]:
    name = clean_name(name, max_length=100)
    token = PREFIX + secrets.token_urlsafe(32)
    rows = await ApiToken.insert(
        ApiToken(
            user=viewer.user_id,
            name=name,
            prefix=token[:12],
            token_hash=token_hash(token),
            created_at=clock.now(),
        )
    ).returning(*TOKEN_COLUMNS)
    return rows[0], token


async def list_for(viewer: Viewer) -> list[dict[str, Any]]:
    return (
        await ApiToken.select(*TOKEN_COLUMNS)
        .where(ApiToken.user == viewer.user_id)
        .order_by(ApiToken.created_at, ascending=False)
    )


async def revoke(viewer: Viewer, token_id: int) -> None:
    rows = (
        await ApiToken.update({ApiToken.revoked_at: clock.now()})
        .where(
            (ApiToken.id == token_id)
            & (ApiToken.user == viewer.user_id)
            & ApiToken.revoked_at.is_null()
        )
        .returning(ApiToken.id)
    )
    if not rows:
        exists = await ApiToken.exists().where(
            (ApiToken.id == token_id) & (ApiToken.user == viewer.user_id)
        )
        if not exists:
            raise NotFound("No such token")


async def viewer_for(token: str) -> Viewer | None:
    if not token.startswith(PREFIX):
        return None
    row = (
        await ApiToken.select(
            ApiToken.id.as_alias("token_id"),
            ApiToken.last_used_at,
            *viewer_columns(ApiToken.user),
        )
        .where(
            (ApiToken.token_hash == token_hash(token))
            & ApiToken.revoked_at.is_null()
            & (ApiToken.user.active == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        return None
    now = clock.now()
    if row["last_used_at"] is None or (now - row["last_used_at"]).total_seconds() > _TOUCH_SECONDS:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["token_id"])
    return viewer_from_row(row)
