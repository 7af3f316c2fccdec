"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106).

Each hash or check takes 64 MiB and a good fraction of a second of CPU by design. It runs
in a worker thread, never on the event loop, and at most IMPROVE_LOGIN_CONCURRENT_HASHES
run at once per process: a request that waits SLOT_WAIT_SECONDS without a turn is told
to come back (Busy: 503 with Retry-After) rather than joining a queue that could grow
without end. Passwords longer than MAX_LENGTH are refused before anything is hashed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from improve.errors import Busy, Invalid
from improve.settings import get_settings

_hasher = PasswordHasher()
# Verified against when the email is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")

MIN_LENGTH = 10
# Longer than any passphrase people type or a password manager makes (they stop at 128),
# short enough that hashing it costs nothing extra.
MAX_LENGTH = 1024

# How long a request waits for a hashing turn before it is told to come back.
SLOT_WAIT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 5
BUSY = "The service is busy checking other passwords. Try again in a few seconds."


def check_length(password: str, field: str = "password") -> None:
    if len(password) > MAX_LENGTH:
        raise Invalid({field: f"must be at most {MAX_LENGTH} characters"})


def check_strength(password: str, field: str = "password") -> None:
    check_length(password, field)
    if len(password) < MIN_LENGTH:
        raise Invalid({field: f"must be at least {MIN_LENGTH} characters long"})
    if len(set(password)) < 4:
        raise Invalid({field: "is too repetitive"})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class _Hashing:
    """Hashes running in this process now, and the most seen at once (tests read it)."""

    running: int = 0
    peak: int = 0


HASHING = _Hashing()

# One semaphore per event loop (a test run or a worker has one loop), remade when the
# setting changes.
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _semaphore() -> asyncio.Semaphore:
    limit = get_settings().login_concurrent_hashes
    loop = asyncio.get_running_loop()
    found = _slots.get(loop)
    if found is None or found[0] != limit:
        found = _slots[loop] = (limit, asyncio.Semaphore(limit))
    return found[1]


async def _acquire(slots: asyncio.Semaphore) -> None:
    try:
        async with asyncio.timeout(SLOT_WAIT_SECONDS):
            await slots.acquire()
    except TimeoutError:
        raise Busy(BUSY, RETRY_AFTER_SECONDS) from None


@asynccontextmanager
async def hash_slot() -> AsyncIterator[None]:
    """Hold one hashing turn for the block (or Busy)."""
    slots = _semaphore()
    await _acquire(slots)
    try:
        yield
    finally:
        slots.release()


async def _off_loop(work: Callable[..., Any], *args: Any) -> Any:
    """``work(*args)`` in a worker thread, in a hashing turn. The turn is given back when
    the thread finishes, not when the caller stops waiting: a client that disconnects
    mid-hash does not let another hash start beside the one still running."""
    slots = _semaphore()
    await _acquire(slots)
    HASHING.running += 1
    HASHING.peak = max(HASHING.peak, HASHING.running)

    def finished(_: asyncio.Future) -> None:
        HASHING.running -= 1
        slots.release()

    task = asyncio.ensure_future(asyncio.to_thread(work, *args))
    task.add_done_callback(finished)
    return await asyncio.shield(task)


async def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """verify() in a worker thread, in a hashing turn (or Busy)."""
    return await _off_loop(verify, password_hash, password)


async def hash_off_loop(password: str) -> str:
    """hash_password() in a worker thread, in a hashing turn (or Busy)."""
    return await _off_loop(hash_password, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
