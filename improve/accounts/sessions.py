"""Browser sessions stored in the database, so several app instances share them.

The cookie carries a random token; the table holds only its SHA-256, so a copy of
the database does not let anyone log in. A session ends after IMPROVE_SESSION_HOURS
without use; use extends it (written at most once per tenth of that period).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from improve import clock
from improve.access import Viewer, viewer_from_row
from improve.accounts.tables import UserSession
from improve.settings import get_settings

COOKIE_NAME = "improve_session"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lifetime() -> timedelta:
    return timedelta(hours=get_settings().session_hours)


async def start(user_id: int) -> str:
    """A new session for the user; returns the token for the cookie.

    Always a fresh token: a session id planted before login is never promoted.
    """
    token = secrets.token_urlsafe(32)
    now = clock.now()
    await UserSession.insert(
        UserSession(
            token_hash=token_hash(token), user=user_id, created_at=now, expires_at=now + _lifetime()
        )
    )
    return token


# Every request starts here, so the statement is written out once rather than built by
# Piccolo per request (its join building cost more than the lookup itself). The columns
# are those of access.viewer_columns; tests/test_login.py checks both give one Viewer.
# The unread count reads the partial index notification_unread and stops at 100 (the
# menu says 99+), so a person's long history never slows their pages.
SESSION_SQL = """
SELECT s.id AS session_id, s.expires_at AS expires_at,
       u.id AS id, u.email AS email, u.name AS name, u.role AS role,
       u.organisation AS organisation, o.name AS organisation_name,
       o.kind AS organisation_kind,
       (SELECT count(*) FROM (SELECT 1 FROM notification n
         WHERE n."user" = u.id AND n.read_at IS NULL LIMIT 100) AS recent) AS unread
FROM user_session s
JOIN app_user u ON u.id = s."user"
JOIN organisation o ON o.id = u.organisation
WHERE s.token_hash = {} AND s.expires_at > {} AND u.active = {}
"""


async def viewer_for(token: str) -> Viewer | None:
    found = await session_for(token)
    return found[0] if found else None


async def session_for(token: str) -> tuple[Viewer, int] | None:
    """The session's person and their unread notifications (for the menu on every page),
    in the one statement every request sends anyway."""
    if not token:
        return None
    now = clock.now()
    digest = token_hash(token)
    rows = await UserSession.raw(SESSION_SQL, digest, now, True)
    row = rows[0] if rows else None
    if row is None:
        return None
    lifetime = _lifetime()
    if row["expires_at"] - now < lifetime - lifetime / 10:
        await UserSession.update({UserSession.expires_at: now + lifetime}).where(
            UserSession.id == row["session_id"]
        )
    return viewer_from_row(row), int(row["unread"] or 0)


async def end(token: str) -> None:
    if token:
        await UserSession.delete().where(UserSession.token_hash == token_hash(token))


async def purge_expired() -> int:
    gone = (
        await UserSession.delete()
        .where(UserSession.expires_at <= clock.now())
        .returning(UserSession.id)
    )
    return len(gone)


async def count_for(user_id: int) -> int:
    return await UserSession.count().where(UserSession.user == user_id)
