"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from improve.errors import Invalid

_hasher = PasswordHasher()
# Verified against when the email is unknown, so the answer takes as long either way.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")

MIN_LENGTH = 10


def check_strength(password: str, field: str = "password") -> None:
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


async def verify_off_loop(password_hash: str | None, password: str) -> bool:
    """verify() in a worker thread: argon2 takes tens of milliseconds of CPU by design,
    which would otherwise stall every other request on the event loop."""
    return await asyncio.to_thread(verify, password_hash, password)


async def hash_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
