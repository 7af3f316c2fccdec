"""What reminders are due, and to whom: pure functions over plain values.

Each reminder carries a dedupe key that names the thing and its date, so the same
reminder is written to the outbox once, however often the scan runs; when the date
moves (a review rescheduled, an action given a new due date) a new reminder is due.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ESCALATE_AFTER_DAYS = 14  # overdue actions also go to the provider's quality lead


@dataclass(frozen=True)
class Reminder:
    kind: str
    dedupe_key: str
    user_id: int
    case_id: int | None  # None: about a service without an open case
    subject_of: str  # what the reminder is about, for the message
    on: dt.date
    link: str
    extra: tuple[tuple[str, str], ...] = ()


def review_upcoming(
    *,
    case_id: int,
    service: str,
    audience: str,
    label: str,
    on: dt.date,
    attendees: list[int],
    today: dt.date,
    days_before: int,
) -> list[Reminder]:
    """N days before a review (and on any day up to it, if a scan was missed)."""
    if not 0 <= (on - today).days <= days_before:
        return []
    return [
        Reminder(
            "review_upcoming",
            f"review-upcoming:{case_id}:{audience}:{on}:{user}",
            user,
            case_id,
            f"{label}: {service}",
            on,
            f"/cases/{case_id}#reviews",
            (("audience", audience),),
        )
        for user in sorted(set(attendees))
    ]


def action_due_soon(
    *,
    action_id: int,
    case_id: int,
    title: str,
    due_on: dt.date,
    owner: int | None,
    today: dt.date,
    days_before: int,
) -> list[Reminder]:
    if owner is None or not 0 <= (due_on - today).days <= days_before:
        return []
    return [
        Reminder(
            "action_due_soon",
            f"action-due:{action_id}:{due_on}:{owner}",
            owner,
            case_id,
            title,
            due_on,
            f"/actions/{action_id}",
        )
    ]


def action_needs_owner(
    *,
    action_id: int,
    case_id: int,
    title: str,
    due_on: dt.date,
    managers: list[int],
    today: dt.date,
    days_before: int,
) -> list[Reminder]:
    """An open action due soon that nobody will do (never given an owner, or its owner
    has left): to the service's manager, once for each due date, so it finds an owner
    before it is late rather than after."""
    if not 0 <= (due_on - today).days <= days_before:
        return []
    return [
        Reminder(
            "action_needs_owner",
            f"action-unowned:{action_id}:{due_on}:{user}",
            user,
            case_id,
            title,
            due_on,
            f"/actions/{action_id}",
        )
        for user in sorted(set(managers))
    ]


def action_overdue(
    *,
    action_id: int,
    case_id: int,
    title: str,
    due_on: dt.date,
    owner: int | None,
    managers: list[int],
    quality_leads: list[int],
    today: dt.date,
) -> list[Reminder]:
    """To the owner and the manager once it is overdue; after 14 days also to the quality
    lead (a separate reminder, so the escalation arrives even if the first was sent)."""
    late = (today - due_on).days
    if late < 1:
        return []
    out = [
        Reminder(
            "action_overdue",
            f"action-overdue:{action_id}:{due_on}:{user}",
            user,
            case_id,
            title,
            due_on,
            f"/actions/{action_id}",
        )
        for user in sorted({u for u in [owner, *managers] if u})
    ]
    if late >= ESCALATE_AFTER_DAYS:
        out += [
            Reminder(
                "action_escalated",
                f"action-escalated:{action_id}:{due_on}:{user}",
                user,
                case_id,
                title,
                due_on,
                f"/actions/{action_id}",
            )
            for user in sorted(set(quality_leads))
        ]
    return out


DEADLINE_DAYS = 7  # CQC deadlines are announced a week ahead (and again on the day)


def review_missed(
    *,
    case_id: int,
    service: str,
    audience: str,
    label: str,
    on: dt.date,
    people: list[int],
    today: dt.date,
) -> list[Reminder]:
    """A review not recorded by the day after its date: to the manager and quality lead."""
    if (today - on).days < 1:
        return []
    return [
        Reminder(
            "review_missed",
            f"review-missed:{case_id}:{audience}:{on}:{user}",
            user,
            case_id,
            f"{label}: {service}",
            on,
            f"/cases/{case_id}#reviews",
        )
        for user in sorted(set(people))
    ]


def deadline_near(
    *,
    case_id: int,
    service: str,
    key: str,
    label: str,
    on: dt.date,
    people: list[int],
    today: dt.date,
) -> list[Reminder]:
    """A CQC deadline (action plan due, warning-notice compliance, expected re-inspection)
    a week ahead; once per deadline and date."""
    if not 0 <= (on - today).days <= DEADLINE_DAYS:
        return []
    return [
        Reminder(
            "deadline_near",
            f"deadline:{case_id}:{key}:{on}:{user}",
            user,
            case_id,
            f"{label}: {service}",
            on,
            f"/cases/{case_id}",
        )
        for user in sorted(set(people))
    ]


def monitoring_review_due(
    *,
    service_id: int,
    service: str,
    level: str,
    on: dt.date,
    people: list[int],
    today: dt.date,
    days_before: int,
) -> list[Reminder]:
    """A commissioner's review of the monitoring level it holds a service at: to the
    commissioning organisation's users, a few days ahead; once per service and date."""
    if not 0 <= (on - today).days <= days_before:
        return []
    return [
        Reminder(
            "monitoring_review",
            f"monitoring-review:{service_id}:{on}:{user}",
            user,
            None,
            f"{service} ({level})",
            on,
            f"/services/{service_id}/monitoring",
        )
        for user in sorted(set(people))
    ]
