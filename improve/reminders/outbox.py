"""Writing reminders to the outbox once, and delivering them once.

Exactly once across restarts and several app instances: a unique dedupe key makes the
second write of the same reminder a no-op, and a sender claims a row with a conditional
UPDATE (pending -> sending) before sending, so two senders never send the same row.
A row whose sender died is released after a lease; a failed send is retried a few times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from improve import clock
from improve.reminders import mail
from improve.reminders.rules import Reminder
from improve.reminders.tables import Notification, Outbox
from improve.settings import get_settings

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
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


async def claim(row_id: int) -> bool:
    """Take a pending row for sending; False if another sender took it first."""
    taken = (
        await Outbox.update({Outbox.status: "sending", Outbox.claimed_at: clock.now()})
        .where((Outbox.id == row_id) & (Outbox.status == "pending"))
        .returning(Outbox.id)
    )
    return bool(taken)


async def release_stale() -> int:
    """Rows left 'sending' by a sender that died go back to pending after the lease."""
    rows = (
        await Outbox.update({Outbox.status: "pending"})
        .where((Outbox.status == "sending") & (Outbox.claimed_at < clock.now() - LEASE))
        .returning(Outbox.id)
    )
    return len(rows)


async def deliver(limit: int = 200) -> dict[str, int]:
    """Send pending emails, one claim at a time, pausing between messages."""
    settings = get_settings()
    summary = {"sent": 0, "failed": 0, "skipped": 0, "released": await release_stale()}
    if not settings.smtp_host:
        return summary  # email is off: in-app notifications still show
    now = clock.now()
    pending = (
        await Outbox.select(Outbox.id)
        .where(
            (Outbox.status == "pending")
            & (Outbox.next_attempt_at.is_null() | (Outbox.next_attempt_at <= now))
        )
        .order_by(Outbox.id)
        .limit(limit)
    )
    for item in pending:
        if not await claim(item["id"]):
            summary["skipped"] += 1
            continue
        row = await Outbox.select().where(Outbox.id == item["id"]).output(load_json=True).first()
        try:
            await mail.send(row, settings)
        except Exception as exc:  # one bad message must not stop the others
            attempts = row["attempts"] + 1
            status = "failed" if attempts >= settings.mail_max_attempts else "pending"
            await Outbox.update(
                {
                    Outbox.status: status,
                    Outbox.attempts: attempts,
                    Outbox.last_error: str(exc)[:1000],
                    Outbox.next_attempt_at: clock.now() + backoff(attempts),
                }
            ).where(Outbox.id == row["id"])
            log.warning(
                "email %s to %s not sent (attempt %d): %s", row["id"], row["email"], attempts, exc
            )
            summary["failed"] += 1
        else:
            await Outbox.update(
                {
                    Outbox.status: "sent",
                    Outbox.sent_at: clock.now(),
                    Outbox.attempts: row["attempts"] + 1,
                }
            ).where(Outbox.id == row["id"])
            summary["sent"] += 1
        if settings.mail_pause_seconds:
            await asyncio.sleep(settings.mail_pause_seconds)
    return summary


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
