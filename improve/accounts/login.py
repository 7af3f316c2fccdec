"""Password login, with every attempt counted before its password is checked.

In order, each step refusing without doing the next:

1. the fields' sizes (email at most 254 characters, password at most
   passwords.MAX_LENGTH): refused naming the field, nothing counted or hashed;
2. the client address's count (improve.accounts.throttle): 429 when its window is full;
3. the email address's count, whether or not it belongs to anyone, so the answer never
   reveals which addresses exist: refused while locked;
4. a hashing turn (improve.accounts.passwords): 503 when none comes quickly, and the
   attempt is given back to both counts;
5. the password itself. A success clears the email's count and gives the address its
   attempt back.
"""

from __future__ import annotations

import contextlib
import logging

from improve import clock
from improve.access import Viewer, viewer_columns, viewer_from_row
from improve.accounts import passwords, throttle
from improve.accounts.tables import User
from improve.db import write_tx
from improve.errors import Busy, Invalid

log = logging.getLogger(__name__)

MAX_EMAIL = 254  # RFC 5321's limit on a forward path; app_user.email holds as much

lock_length = throttle.lock_length  # the back-off, where tests/test_login.py reads it

NO_MATCH = "That email address and password do not match an active account."


class LoginRefused(Exception):
    """A refusal to show on the login form: its words, status and Retry-After."""

    def __init__(self, message: str, status_code: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after


def check_email(email: str, field: str = "email") -> None:
    if len(email) > MAX_EMAIL:
        raise Invalid({field: f"must be at most {MAX_EMAIL} characters"})


def check_fields(email: str, password: str) -> None:
    """Invalid naming each field that is too long, before anything is counted or hashed."""
    errors: dict[str, str] = {}
    for check in (lambda: check_email(email), lambda: passwords.check_length(password)):
        try:
            check()
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)


async def authenticate(email: str, password: str, client: str | None = None) -> Viewer:
    """The viewer for these credentials; Invalid for a field too long; otherwise
    LoginRefused with a message for people. ``client`` is the ASGI scope's client host
    (None from the command line and tests: no per-address count)."""
    email, password = (email or "").strip().lower(), password or ""
    check_fields(email, password)
    if not email or not password:
        raise LoginRefused("Enter your email address and password.")
    if "@" not in email:
        # every account's address has one; and so nothing typed here can count against
        # a password-change form's key (throttle.user_key)
        raise Invalid({"email": "is not a valid email address"})
    address = throttle.address_key(client)
    try:
        await throttle.reserve_address(address)
    except throttle.Limited as limited:
        raise LoginRefused(
            f"Too many failed attempts from your network. Try again in {limited.minutes}.",
            status_code=429,
            retry_after=limited.seconds,
        ) from None
    try:
        count = await throttle.reserve(email)
    except throttle.Limited as locked:
        raise LoginRefused(
            f"Too many failed attempts for this email address. Try again in {locked.minutes}."
        ) from None
    row = (
        await User.select(*viewer_columns(User), User.password_hash, User.active)
        .where(User.email == email)
        .first()
    )
    try:
        ok = await passwords.verify_off_loop(row["password_hash"] if row else None, password)
    except Busy as busy:
        await throttle.give_back(email, count)
        await throttle.give_back_address(address)
        raise LoginRefused(str(busy), status_code=503, retry_after=busy.retry_after) from None
    if not ok or not row["active"]:
        raise LoginRefused(NO_MATCH)
    new_hash = None
    if passwords.needs_rehash(row["password_hash"]):
        with contextlib.suppress(Busy):  # a busy moment: rehash at the next login instead
            new_hash = await passwords.hash_off_loop(password)
    async with write_tx():
        await throttle.clear(email)
        changes = {User.last_login_at: clock.now()}
        if new_hash:
            changes[User.password_hash] = new_hash
        await User.update(changes).where(User.id == row["id"])
    await throttle.give_back_address(address)
    return viewer_from_row(row)
