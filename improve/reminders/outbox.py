"""Writing reminders to the outbox once, and delivering them once.

Exactly once across restarts and several app instances: a unique dedupe key makes the
second write of the same reminder a no-op, and a sender claims a row with a conditional
UPDATE (pending -> sending) before sending, so two senders never send the same row.
A sender renews its claim while it sends; a row whose sender died is released after the
lease (IMPROVE_MAIL_LEASE_SECONDS, on the real clock). A failed send is retried a few
times with growing waits; a permanent refusal (5xx) fails it at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import secrets
from typing import Any

import aiosmtplib

from improve import clock
from improve.reminders import mail
from improve.reminders.rules import Reminder
from improve.reminders.tables import Notification, Outbox
from improve.settings import get_settings

log = logging.getLogger(__name__)

MAX_WAIT = dt.timedelta(minutes=60)


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait before the next try: 1, 2, 4 ... 60 minutes."""
    return min(MAX_WAIT, dt.timedelta(minutes=2 ** min(attempts - 1, 10)))


TITLES = {
    "review_upcoming": "Review on {on}: {about}",
    "action_due_soon": "Due {on}: {about}",
    "action_needs_owner": "No owner, due {on}: {about}",
    "action_overdue": "Overdue since {on}: {about}",
    "action_escalated": "Two weeks overdue: {about}",
    "review_missed": "Not recorded: {about} ({on})",
    "deadline_near": "{on}: {about}",
    "monitoring_review": "Monitoring review {on}: {about}",
}


async def existing_keys(keys: list[str], chunk: int = 500) -> set[str]:
    """Which of these dedupe keys are in the outbox already (one query per 500 keys)."""
    found: set[str] = set()
    unique = sorted(set(keys))
    for start in range(0, len(unique), chunk):
        rows = await Outbox.select(Outbox.dedupe_key).where(
            Outbox.dedupe_key.is_in(unique[start : start + chunk])
        )
        found.update(r["dedupe_key"] for r in rows)
    return found


async def enqueue(reminder: Reminder, user: dict[str, Any]) -> bool:
    """Write one reminder (email and in-app) unless it was written before. True if new."""
    context = {
        "name": user["name"],
        "subject_of": reminder.subject_of,
        "on": reminder.on,
        "link": reminder.link,
    }
    subject, text, html = mail.render(reminder.kind, context)
    ics = ""
    if reminder.kind == "review_upcoming":
        ics = mail.review_invite(
            reminder.subject_of,
            reminder.on,
            get_settings().base_url + reminder.link,
            f"{reminder.dedupe_key.rsplit(':', 1)[0]}@improve",
        )
    now = clock.now()
    inserted = (
        await Outbox.insert(
            Outbox(
                kind=reminder.kind,
                dedupe_key=reminder.dedupe_key,
                user=reminder.user_id,
                email=user["email"],
                subject=subject,
                text_body=text,
                html_body=html,
                headers={},
                ics=ics,
                case=reminder.case_id,
                status="pending",
                created_at=now,
            )
        )
        .on_conflict(target=Outbox.dedupe_key, action="DO NOTHING")
        .returning(Outbox.id)
    )
    if not inserted:
        return False
    title = TITLES[reminder.kind].format(
        on=reminder.on.strftime("%-d %b"), about=reminder.subject_of
    )
    await Notification.insert(
        Notification(
            user=reminder.user_id,
            kind=reminder.kind,
            title=title[:300],
            link=reminder.link,
            created_at=now,
        )
    )
    return True


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=get_settings().mail_lease_seconds)


class _Stopping:
    """Set when the process is stopping (SIGTERM): a delivery run finishes the email in
    flight and takes no other."""

    requested = False


def stop_sending() -> None:
    _Stopping.requested = True


def resume_sending() -> None:
    _Stopping.requested = False


async def claim(row_id: int) -> str | None:
    """Take a pending row for sending: the claim's token, or None if another sender took
    it first. The claim is dated by the real clock (a delivery run's stopped clock would
    date every claim of a long run at its start, and other senders would take them as
    stale): it lasts ``lease()`` unless renewed."""
    token = secrets.token_hex(16)
    taken = (
        await Outbox.update(
            {Outbox.status: "sending", Outbox.claimed_at: clock.wall(), Outbox.claim_token: token}
        )
        .where((Outbox.id == row_id) & (Outbox.status == "pending"))
        .returning(Outbox.id)
    )
    return token if taken else None


def _held(row_id: int, token: str) -> Any:
    return (Outbox.id == row_id) & (Outbox.status == "sending") & (Outbox.claim_token == token)


async def renew(row_id: int, token: str) -> bool:
    """Keep holding a claim while its email is being sent; False if it was lost."""
    kept = (
        await Outbox.update({Outbox.claimed_at: clock.wall()})
        .where(_held(row_id, token))
        .returning(Outbox.id)
    )
    return bool(kept)


async def give_back(row_id: int, token: str) -> bool:
    """A claim handed back unsent (the sender is stopping): pending again at once."""
    back = (
        await Outbox.update({Outbox.status: "pending", Outbox.claim_token: ""})
        .where(_held(row_id, token))
        .returning(Outbox.id)
    )
    return bool(back)


async def release_stale() -> int:
    """Rows left 'sending' by a sender that died (its claim not renewed for a whole lease)
    go back to pending."""
    rows = (
        await Outbox.update({Outbox.status: "pending", Outbox.claim_token: ""})
        .where((Outbox.status == "sending") & (Outbox.claimed_at < clock.wall() - lease()))
        .returning(Outbox.id)
    )
    return len(rows)


def permanent(exc: BaseException) -> bool:
    """A refusal that trying again will not change: the server answered 5xx to this
    message (its sender, a recipient, its content). A 5xx on connecting or logging in is
    the server's set-up, not the message's, and is retried like an outage."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPConnectResponseError):
        return False
    return isinstance(exc, aiosmtplib.SMTPResponseException) and 500 <= exc.code < 600


async def deliver(limit: int | None = None) -> dict[str, int]:
    """Send pending emails, one claim at a time, pausing between messages.

    The batch is taken in a random order, so two senders started together do not walk
    the same rows one behind the other. Each email's claim is renewed while it is being
    sent. A run asked to stop (``stop_sending``) finishes the email in flight and ends; a
    run cancelled mid-send gives the email back, pending at once."""
    settings = get_settings()
    summary = {"sent": 0, "failed": 0, "skipped": 0, "released": await release_stale()}
    if not settings.smtp_host:
        return summary  # email is off: in-app notifications still show
    now = clock.now()
    pending = [
        r["id"]
        for r in await Outbox.select(Outbox.id)
        .where(
            (Outbox.status == "pending")
            & (Outbox.next_attempt_at.is_null() | (Outbox.next_attempt_at <= now))
        )
        .order_by(Outbox.id)
        .limit(limit or settings.mail_batch)
    ]
    random.shuffle(pending)
    for row_id in pending:
        if _Stopping.requested:
            break
        token = await claim(row_id)
        if token is None:
            summary["skipped"] += 1
            continue
        summary[await _send_claimed(row_id, token, settings)] += 1
        if settings.mail_pause_seconds and not _Stopping.requested:
            await asyncio.sleep(settings.mail_pause_seconds)
    return summary


async def _send_claimed(row_id: int, token: str, settings: Any) -> str:
    """Send one claimed row; 'sent' or 'failed' (failed for now or for good)."""
    row = await Outbox.select().where(Outbox.id == row_id).output(load_json=True).first()
    renewing = asyncio.create_task(_keep_renewing(row_id, token))
    try:
        await mail.send(row, settings)
    except asyncio.CancelledError:
        # stopped mid-send: hand it back now rather than hold it for a whole lease
        await asyncio.shield(give_back(row_id, token))
        raise
    except Exception as exc:  # one bad message must not stop the others
        await _failed(row, token, exc, settings)
        return "failed"
    finally:
        renewing.cancel()
    marked = (
        await Outbox.update(
            {
                Outbox.status: "sent",
                Outbox.sent_at: clock.now(),
                Outbox.attempts: row["attempts"] + 1,
                Outbox.claim_token: "",
            }
        )
        .where(_held(row_id, token))
        .returning(Outbox.id)
    )
    if not marked:  # held past its lease without renewal (a stalled process): say so
        log.warning("email %s was sent after its claim had lapsed", row_id)
    return "sent"


async def _keep_renewing(row_id: int, token: str) -> None:
    every = lease().total_seconds() / 3
    while True:
        await asyncio.sleep(every)
        if not await renew(row_id, token):
            log.warning("email %s: the claim was lost while sending", row_id)
            return


async def _failed(row: dict[str, Any], token: str, exc: Exception, settings: Any) -> None:
    attempts = row["attempts"] + 1
    final = permanent(exc) or attempts >= settings.mail_max_attempts
    await Outbox.update(
        {
            Outbox.status: "failed" if final else "pending",
            Outbox.attempts: attempts,
            Outbox.last_error: str(exc)[:1000],
            Outbox.next_attempt_at: clock.now() + backoff(attempts),
            Outbox.claim_token: "",
        }
    ).where(_held(row["id"], token))
    log.warning(
        "email %s to %s %s (attempt %d): %s",
        row["id"],
        row["email"],
        "refused for good" if permanent(exc) else "not sent",
        attempts,
        exc,
    )


async def unread_count(user_id: int) -> int:
    return await Notification.count().where(
        (Notification.user == user_id) & Notification.read_at.is_null()
    )


async def notifications(user_id: int, limit: int = 50) -> list[dict[str, Any]]:
    return (
        await Notification.select()
        .where(Notification.user == user_id)
        .order_by(Notification.created_at, ascending=False)
        .order_by(Notification.id, ascending=False)
        .limit(limit)
    )


async def mark_read(user_id: int) -> int:
    rows = (
        await Notification.update({Notification.read_at: clock.now()})
        .where((Notification.user == user_id) & Notification.read_at.is_null())
        .returning(Notification.id)
    )
    return len(rows)


STATUSES = ("pending", "sending", "sent", "failed")


async def overview(status: str = "", limit: int = 100) -> dict[str, Any]:
    """For the admin page: counts by status and the latest messages."""
    from piccolo.query.functions.aggregate import Count

    counts = {
        r["status"]: r["n"]
        for r in await Outbox.select(Outbox.status, Count(alias="n")).group_by(Outbox.status)
    }
    query = Outbox.select(
        Outbox.id,
        Outbox.kind,
        Outbox.email,
        Outbox.subject,
        Outbox.status,
        Outbox.attempts,
        Outbox.last_error,
        Outbox.created_at,
        Outbox.sent_at,
        Outbox.next_attempt_at,
    )
    if status in STATUSES:
        query = query.where(Outbox.status == status)
    rows = await query.order_by(Outbox.id, ascending=False).limit(limit)
    return {"counts": {s: counts.get(s, 0) for s in STATUSES}, "rows": rows}


async def retry(row_id: int) -> bool:
    """Put a failed message back in the queue, from now."""
    rows = (
        await Outbox.update(
            {Outbox.status: "pending", Outbox.attempts: 0, Outbox.next_attempt_at: None}
        )
        .where((Outbox.id == row_id) & (Outbox.status == "failed"))
        .returning(Outbox.id)
    )
    return bool(rows)
