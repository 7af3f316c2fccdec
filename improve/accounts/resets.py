"""Resetting a forgotten password by email.

A manager locked out at 9 pm should not have to wait for an administrator. The link is
signed, not stored: an HMAC (the app's secret key) over the person, an expiry time and
their current password hash. Nothing in the database can be stolen to forge one, and
the link dies when it is used (the hash changes) or when it expires, whichever is first.

The answer to "send me a link" is the same whether or not the address has an account,
and the email is sent after the response (improve.accounts.routes), so neither the
words nor the time taken say which addresses exist. One link per address every few
minutes, so nobody can flood a colleague's inbox.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
from typing import Any

from improve import clock
from improve.accounts import passwords, people, throttle
from improve.accounts.tables import LoginThrottle, User
from improve.db import write_tx
from improve.errors import Invalid, NotFound
from improve.reminders import mail
from improve.settings import get_settings

log = logging.getLogger(__name__)

LIFETIME = dt.timedelta(minutes=60)
RESEND_AFTER = dt.timedelta(minutes=5)


def _signature(user_id: int, expires: int, password_hash: str) -> str:
    key = get_settings().secret_key.encode()
    message = f"password-reset:{user_id}:{expires}:{password_hash}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(user: dict[str, Any], now: dt.datetime) -> str:
    """A link token for this person (with their current password hash), valid LIFETIME."""
    expires = int((now + LIFETIME).timestamp())
    return f"{user['id']}-{expires}-{_signature(user['id'], expires, user['password_hash'])}"


async def holder_of(token: str) -> dict[str, Any] | None:
    """The active person a token was made for, if it is genuine, unused and unexpired."""
    if len(token) > 200:  # a genuine one is under 80 characters
        return None
    try:
        user_part, expires_part, signature = token.split("-", 2)
        user_id, expires = int(user_part), int(expires_part)
    except ValueError:
        return None
    if expires < clock.now().timestamp() or not 0 < user_id < 2**31:
        return None
    row = (
        await User.select(User.id, User.name, User.email, User.password_hash)
        .where((User.id == user_id) & (User.active == True))  # noqa: E712 (SQL, not Python)
        .first()
    )
    if row is None:
        return None
    expected = _signature(user_id, expires, row["password_hash"])
    return row if well_formed(token) and hmac.compare_digest(expected, signature) else None


_TOKEN = re.compile(r"[0-9]{1,10}-[0-9]{1,12}-[A-Za-z0-9_-]{1,64}")


def well_formed(token: str) -> bool:
    """Whether the token has the shape make_token gives (ASCII: digits, digits, base64url);
    anything else is not a link of ours and answers 404 (hmac.compare_digest refuses to
    compare text that is not ASCII, and int() reads other scripts' digits)."""
    return _TOKEN.fullmatch(token) is not None


def require_well_formed(token: str) -> None:
    """404 for a token that cannot be one of ours (the page of an expired or used link is
    for real links)."""
    if not well_formed(token):
        raise NotFound("This link is not valid")


async def request_link(email: str) -> dict[str, str] | None:
    """Who to send a link to (email, name, link) when this address belongs to an active
    person and no link went to it in the last few minutes; otherwise None. The caller
    answers the same either way, and the work done here is the same for every address:
    claim the address's turn, then look for the person (rendering and sending come after
    the response, in send_link)."""
    email = (email or "").strip().lower()
    if not email or len(email) > 254 or "@" not in email:
        return None
    now = clock.now()
    async with write_tx():
        created = await throttle.touch(email, now)
        # claim the send atomically: two requests at once send one email
        claimed = (
            await LoginThrottle.update(
                {LoginThrottle.reset_sent_at: now, LoginThrottle.touched_at: now}
            )
            .where(
                (LoginThrottle.email == email)
                & (
                    LoginThrottle.reset_sent_at.is_null()
                    | (LoginThrottle.reset_sent_at < now - RESEND_AFTER)
                )
            )
            .returning(LoginThrottle.id)
        )
    if created:
        await throttle.prune(now)
    row = (
        await User.select(User.id, User.name, User.email, User.password_hash)
        .where((User.email == email) & (User.active == True))  # noqa: E712 (SQL, not Python)
        .first()
    )
    if not claimed or row is None:
        return None
    link = f"{get_settings().base_url}/password/reset/{make_token(row, now)}"
    return {"email": row["email"], "name": row["name"], "link": link}


async def send_link(to: dict[str, str] | None) -> None:
    """Render and send the email now, not through the outbox: the link is a key to the
    account and is never written down. A failure is logged; the person can ask again."""
    settings = get_settings()
    if to is None or not settings.smtp_host:
        return
    minutes = int(LIFETIME.total_seconds() // 60)
    subject, text, html = mail.render(
        "password_reset", {"name": to["name"], "link": to["link"], "minutes": minutes}
    )
    message = {"email": to["email"], "subject": subject, "text_body": text, "html_body": html}
    try:
        await mail.send(message, settings)
    except Exception as exc:  # the page has answered already; the log says what failed
        log.warning("password reset email to %s not sent: %s", to["email"], exc)


async def complete(token: str, new: str, confirm: str) -> dict[str, Any]:
    """Set the new password for the token's holder: every other login of theirs ends,
    and every API token (a reset may follow a theft); the link dies with the old hash;
    the address's lock-out and the person's password-change count are lifted. Works
    while the address is locked: the link proves the person holds the mailbox. Returns
    the holder, with how many API tokens ended (``tokens_ended``)."""
    errors: dict[str, str] = {}
    for field, value in (("new_password", new), ("confirm_password", confirm)):
        try:
            passwords.check_length(value, field)
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    holder = await holder_of(token)
    if holder is None:
        raise Invalid({"token": "This link has expired or has been used. Ask for a new one."})
    if new != confirm:
        raise Invalid({"confirm_password": "does not match the new password"})
    ended = await people.set_password(holder["id"], new, field="new_password")
    async with write_tx():
        await throttle.clear(holder["email"], throttle.user_key(holder["id"]))
    return {**holder, "tokens_ended": ended}
