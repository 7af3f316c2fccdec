"""Counting password attempts, before any password is hashed.

Two counts, each taken in one write transaction before argon2 runs, so that when many
guesses arrive at once only those the count allows reach the hash:

- **per key**: an email address typed at the login form (known or not, so a lock-out
  says nothing about which addresses exist), or ``user:<id>`` for the password-change
  form. IMPROVE_LOGIN_FREE_ATTEMPTS attempts are free; the attempt that uses the last
  of them, and each one after, locks the key for twice as long as the one before (1, 2,
  4 ... 30 minutes), from the moment it is counted. While a key is locked nothing is
  checked for it. A success clears the key. A key's count is forgotten a day after it
  last counted anything (FORGET_AFTER).
- **per client address** (the login form only): IMPROVE_LOGIN_ADDRESS_ATTEMPTS failed
  or unfinished attempts in a 15-minute window (ADDRESS_WINDOW), whichever addresses
  they were for; a success is given back, so an office behind one address can log in.
  An IPv6 client counts by its /64 network, which one household or server holds.

Rows are pruned where they are written: each new key deletes the keys nobody has touched
for FORGET_AFTER, and each new address the ended windows (a key or address seen again
forgets its own old count in place). So the tables hold what the last day (keys) or the
last 15 minutes (addresses) brought, and no more.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import datetime, timedelta

from piccolo.columns.combination import Where

from improve import clock
from improve.accounts.tables import LoginAddress, LoginThrottle
from improve.db import write_tx
from improve.settings import get_settings

log = logging.getLogger(__name__)

MAX_LOCK = timedelta(minutes=30)
FORGET_AFTER = timedelta(hours=24)
ADDRESS_WINDOW = timedelta(minutes=15)


class Limited(Exception):
    """No attempt allowed now; ``wait`` says for how long."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__(f"try again in {wait}")
        self.wait = max(wait, timedelta(seconds=1))

    @property
    def seconds(self) -> int:
        return math.ceil(self.wait.total_seconds())

    @property
    def minutes(self) -> str:
        minutes = max(1, math.ceil(self.wait.total_seconds() / 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}"


def lock_length(attempts: int, free_attempts: int) -> timedelta:
    """How long a key is locked once its count reaches ``attempts``."""
    over = attempts - free_attempts
    if over < 0:
        return timedelta(0)
    return min(MAX_LOCK, timedelta(minutes=2 ** min(over, 10)))


def user_key(user_id: int) -> str:
    """The password-change form's key for a person. It has no ``@``, and the login form
    only counts what has one, so nobody can add to it from outside."""
    return f"user:{user_id}"


def _stale(now: datetime) -> Where:
    """Keys nobody has touched for a day; rows written before touched_at existed are
    stale once any lock on them has ended."""
    return (LoginThrottle.touched_at < now - FORGET_AFTER) | (
        LoginThrottle.touched_at.is_null()
        & (LoginThrottle.locked_until.is_null() | (LoginThrottle.locked_until < now))
    )


async def touch(key: str, now: datetime) -> bool:
    """The key's row, made if missing, inside the caller's write transaction; its old
    failures are forgotten first. True when the row is new: the caller then calls prune
    once its transaction has ended, so the table only grows by the keys of the last day."""
    await LoginThrottle.delete().where((LoginThrottle.email == key) & _stale(now))
    created = (
        await LoginThrottle.insert(LoginThrottle(email=key, failures=0, touched_at=now))
        .on_conflict(target=LoginThrottle.email, action="DO NOTHING")
        .returning(LoginThrottle.id)
    )
    return bool(created)


async def prune(now: datetime) -> None:
    """Delete every stale key. Its own transaction, holding no other row: on PostgreSQL
    two attempts pruning inside their own transactions could each wait for a row the
    other holds."""
    async with write_tx():
        await LoginThrottle.delete().where(_stale(now))


async def reserve(key: str) -> int:
    """Count one attempt for ``key`` before it is checked; returns its number (a success
    calls clear, a failure has nothing more to record). Limited while the key is locked.

    One conditional UPDATE takes the attempt only if the key is not locked, and the
    attempt that uses the last free one sets the lock in the same transaction: the
    transaction holds the row (SQLite: the write lock; PostgreSQL: the row lock, and a
    concurrent UPDATE re-reads the row after this one commits), so two guesses can never
    both take the last free attempt."""
    free = get_settings().login_free_attempts
    now = clock.now()
    count, lock, locked_until = 0, timedelta(0), None
    async with write_tx():
        created = await touch(key, now)
        rows = (
            await LoginThrottle.update(
                {LoginThrottle.failures: LoginThrottle.failures + 1, LoginThrottle.touched_at: now}
            )
            .where(
                (LoginThrottle.email == key)
                & (LoginThrottle.locked_until.is_null() | (LoginThrottle.locked_until <= now))
            )
            .returning(LoginThrottle.failures)
        )
        if rows:
            count = rows[0]["failures"]
            lock = lock_length(count, free)
            if lock:
                await LoginThrottle.update({LoginThrottle.locked_until: now + lock}).where(
                    LoginThrottle.email == key
                )
        else:
            found = (
                await LoginThrottle.select(LoginThrottle.locked_until)
                .where(LoginThrottle.email == key)
                .first()
            )
            locked_until = found["locked_until"]
    if created:
        await prune(now)
    if locked_until is not None:
        raise Limited(locked_until - now)
    if lock:
        log.warning("%s locked for %s after %d attempts", key, lock, count)
    return count


async def give_back(key: str, count: int) -> None:
    """Undo ``reserve`` for an attempt that was never checked (no hashing turn). If it
    set the lock, no attempt was taken after it, so the lock goes too."""
    changes = {LoginThrottle.failures: LoginThrottle.failures - 1}
    if lock_length(count, get_settings().login_free_attempts):
        changes[LoginThrottle.locked_until] = None
    async with write_tx():
        await LoginThrottle.update(changes).where(
            (LoginThrottle.email == key) & (LoginThrottle.failures > 0)
        )


async def clear(*keys: str) -> None:
    """A success (or a password reset): the keys' counts and locks are gone. Runs in the
    caller's write transaction."""
    await LoginThrottle.delete().where(LoginThrottle.email.is_in(list(keys)))


# --- per client address --------------------------------------------------------------------


def address_key(host: str | None) -> str | None:
    """What a client's attempts are counted under: its IP address, an IPv6 address's /64
    network, or None when the server gave no address (then only the per-key count and
    the hashing turns apply).

    ``host`` is the ASGI scope's client. Behind a reverse proxy, uvicorn (``improve
    serve``) puts the forwarded client there only when the proxy is listed in
    FORWARDED_ALLOW_IPS (default 127.0.0.1); the app never reads X-Forwarded-For itself,
    so a client cannot choose the address it is counted under."""
    if not host:
        return None
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


async def reserve_address(address: str | None) -> None:
    """Count one attempt from this client address in its window, or Limited until the
    window ends. An ended window starts again; a new address's row first has every
    ended window deleted (after its transaction, as prune does)."""
    if address is None:
        return
    limit = get_settings().login_address_attempts
    now = clock.now()
    window_start = None
    async with write_tx():
        await LoginAddress.update({LoginAddress.attempts: 0, LoginAddress.window_start: now}).where(
            (LoginAddress.address == address) & (LoginAddress.window_start <= now - ADDRESS_WINDOW)
        )
        created = (
            await LoginAddress.insert(LoginAddress(address=address, window_start=now, attempts=0))
            .on_conflict(target=LoginAddress.address, action="DO NOTHING")
            .returning(LoginAddress.id)
        )
        taken = (
            await LoginAddress.update({LoginAddress.attempts: LoginAddress.attempts + 1})
            .where((LoginAddress.address == address) & (LoginAddress.attempts < limit))
            .returning(LoginAddress.attempts)
        )
        if not taken:
            found = (
                await LoginAddress.select(LoginAddress.window_start)
                .where(LoginAddress.address == address)
                .first()
            )
            window_start = found["window_start"]
    if created:
        async with write_tx():
            await LoginAddress.delete().where(LoginAddress.window_start <= now - ADDRESS_WINDOW)
    if window_start is not None:
        log.warning("login attempts from %s refused until its window ends", address)
        raise Limited(window_start + ADDRESS_WINDOW - now)


async def give_back_address(address: str | None) -> None:
    """A success, or an attempt never checked: it does not count against the address."""
    if address is None:
        return
    async with write_tx():
        await LoginAddress.update({LoginAddress.attempts: LoginAddress.attempts - 1}).where(
            (LoginAddress.address == address) & (LoginAddress.attempts > 0)
        )
