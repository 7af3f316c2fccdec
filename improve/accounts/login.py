"""Password login with a back-off after repeated failures.

Failures are counted per email address whether or not it belongs to anyone, so
the answer never reveals which addresses exist. After the free attempts each
further failure locks the address for twice as long (1, 2, 4 ... 30 minutes).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from improve import clock
from improve.access import Viewer, viewer_columns, viewer_from_row
from improve.accounts import passwords
from improve.accounts.tables import LoginThrottle, User
from improve.db import write_tx
from improve.settings import get_settings

log = logging.getLogger(__name__)

MAX_LOCK = timedelta(minutes=30)


class LoginRefused(Exception):
    pass


def lock_length(failures: int, free_attempts: int) -> timedelta:
    over = failures - free_attempts
    if over < 0:
        return timedelta(0)
    return min(MAX_LOCK, timedelta(minutes=2 ** min(over, 10)))


def _minutes(delta: timedelta) -> str:
    minutes = max(1, int(delta.total_seconds() + 59) // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


async def authenticate(email: str, password: str) -> Viewer:
    """The viewer for these credentials, or LoginRefused with a message for people."""
    email = (email or "").strip().lower()
    if not email or not password:
        raise LoginRefused("Enter your email address and password.")
    now = clock.now()
    throttle = await LoginThrottle.select().where(LoginThrottle.email == email).first()
    if throttle and throttle["locked_until"] and throttle["locked_until"] > now:
        wait = throttle["locked_until"] - now
        raise LoginRefused(
            f"Too many failed attempts for this email address. Try again in {_minutes(wait)}."
        )
    row = (
        await User.select(
            *viewer_columns(User),
            User.password_hash,
            User.active,
        )
        .where(User.email == email)
        .first()
    )
    ok = await passwords.verify_off_loop(row["password_hash"] if row else None, password)
    if not ok or not row["active"]:
        await _record_failure(email)
        raise LoginRefused("That email address and password do not match an active account.")
    async with write_tx():
        await LoginThrottle.delete().where(LoginThrottle.email == email)
        changes = {User.last_login_at: now}
        if passwords.needs_rehash(row["password_hash"]):
            changes[User.password_hash] = await passwords.hash_off_loop(password)
        await User.update(changes).where(User.id == row["id"])
    return viewer_from_row(row)


async def _record_failure(email: str) -> None:
    """Counts a failure atomically (two instances may record at the same moment)."""
    free = get_settings().login_free_attempts
    async with write_tx():
        await LoginThrottle.insert(LoginThrottle(email=email, failures=0)).on_conflict(
            target=LoginThrottle.email, action="DO NOTHING"
        )
        rows = (
            await LoginThrottle.update({LoginThrottle.failures: LoginThrottle.failures + 1})
            .where(LoginThrottle.email == email)
            .returning(LoginThrottle.failures)
        )
        failures = rows[0]["failures"]
        lock = lock_length(failures, free)
        if lock:
            await LoginThrottle.update({LoginThrottle.locked_until: clock.now() + lock}).where(
                LoginThrottle.email == email
            )
    if lock:
        log.warning("login locked for %s after %d failures", email, failures)
