"""The reminder scan: read what is due from the domain rows and write each reminder once.

Runs every few minutes; safe to run twice or on several instances at once (the outbox's
unique dedupe key makes repeats no-ops). One bad row is logged and skipped.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from improve import clock
from improve.accounts.tables import Role, User
from improve.cases.tables import Case
from improve.db import write_tx
from improve.monitoring.tables import MonitoringStatus, MonitoringVisit
from improve.plans.statuses import SETTLED
from improve.plans.tables import Action
from improve.reminders import outbox, rules
from improve.reviews.domain import AUDIENCES, NEXT_FIELD
from improve.services import ratings
from improve.services.tables import Commissioning
from improve.settings import get_settings

log = logging.getLogger(__name__)
BATCH = 50  # new reminders per transaction: few disk flushes, a short hold on the lock


async def _people() -> tuple[dict[int, dict], dict[int, list[int]], dict[int, list[int]]]:
    """Active users; quality leads per provider; commissioner users per organisation."""
    users = await User.select(User.id, User.email, User.name, User.role, User.organisation).where(
        User.active == True  # noqa: E712 (Piccolo builds SQL from ==)
    )
    by_id = {u["id"]: u for u in users}
    leads: dict[int, list[int]] = {}
    commissioners: dict[int, list[int]] = {}
    for u in users:
        if u["role"] == Role.QUALITY_LEAD:
            leads.setdefault(u["organisation"], []).append(u["id"])
        elif u["role"] == Role.COMMISSIONER:
            commissioners.setdefault(u["organisation"], []).append(u["id"])
    return by_id, leads, commissioners


async def _deadlines(
    cases: list[dict[str, Any]], leads: dict[int, list[int]], today: dt.date
) -> list[rules.Reminder]:
    """Action plan due, warning-notice compliance dates, expected re-inspection."""
    notices = await ratings.warning_notices_of(
        [c["opening_rating"] for c in cases if c["opening_rating"]]
    )
    visits: dict[int, list[dict[str, Any]]] = {}
    for v in await MonitoringVisit.select(
        MonitoringVisit.id,
        MonitoringVisit.case,
        MonitoringVisit.action_plan_due_on,
        MonitoringVisit.commissioner.name.as_alias("commissioner_name"),
    ).where(
        (MonitoringVisit.action_plan_due_on >= today)
        & (MonitoringVisit.action_plan_due_on <= today + dt.timedelta(days=rules.DEADLINE_DAYS))
        & MonitoringVisit.case.is_not_null()
    ):
        visits.setdefault(v["case"], []).append(v)
    out: list[rules.Reminder] = []
    for case in cases:
        people = [u for u in [case["manager"], *leads.get(case["provider"], [])] if u]
        dates = [
            (
                f"visit-{v['id']}",
                f"Action plan due to {v['commissioner_name']} after its visit",
                v["action_plan_due_on"],
            )
            for v in visits.get(case["id"], [])
        ]
        if case["action_plan_due_on"] and case["stage"] in ("assessing", "plan_drafted"):
            dates.append(("action-plan", "Action plan due to CQC", case["action_plan_due_on"]))
        if case["expected_reinspection_on"]:
            dates.append(
                ("reinspection", "Expected re-inspection", case["expected_reinspection_on"])
            )
        for n in notices.get(case["opening_rating"], []):
            dates.append(
                (
                    f"warning-{n['regulation']}",
                    f"Warning notice compliance (regulation {n['regulation']})",
                    n["compliance_due_on"],
                )
            )
        for key, label, on in dates:
            out += rules.deadline_near(
                case_id=case["id"],
                service=case["service_name"],
                key=key,
                label=label,
                on=on,
                people=people,
                today=today,
            )
    return out


async def _monitoring_reviews(
    commissioner_users: dict[int, list[int]], today: dt.date, days_before: int
) -> list[rules.Reminder]:
    """Commissioners' review dates of the level they hold each service at."""
    rows = await MonitoringStatus.select(
        MonitoringStatus.service,
        MonitoringStatus.service.name.as_alias("service_name"),
        MonitoringStatus.commissioner,
        MonitoringStatus.level.name.as_alias("level_name"),
        MonitoringStatus.review_on,
    ).where(
        (MonitoringStatus.review_on >= today)
        & (MonitoringStatus.review_on <= today + dt.timedelta(days=days_before))
    )
    out: list[rules.Reminder] = []
    for r in rows:
        out += rules.monitoring_review_due(
            service_id=r["service"],
            service=r["service_name"],
            level=r["level_name"],
            on=r["review_on"],
            people=commissioner_users.get(r["commissioner"], []),
            today=today,
            days_before=days_before,
        )
    return out


async def scan(now: dt.datetime | None = None) -> dict[str, Any]:
    """Find due reminders and write the new ones. Returns what it did."""
    now = now or clock.now()
    with clock.frozen(now):
        return await _scan(clock.today())


async def _scan(today: dt.date) -> dict[str, Any]:
    settings = get_settings()
    users, leads, commissioner_users = await _people()
    cases = await Case.select(
        Case.action_plan_due_on,
        Case.expected_reinspection_on,
        Case.opening_rating,
        Case.stage,
        Case.id,
        Case.service,
        Case.service.name.as_alias("service_name"),
        Case.service.provider.as_alias("provider"),
        Case.service.manager.as_alias("manager"),
        Case.next_internal_review_on,
        Case.next_commissioner_review_on,
    ).where(Case.stage != "closed")
    links: dict[int, list[int]] = {}
    for link in await Commissioning.select(Commissioning.service, Commissioning.commissioner):
        links.setdefault(link["service"], []).append(link["commissioner"])
    by_case = {c["id"]: c for c in cases}
    due: list[rules.Reminder] = []
    for case in cases:
        team = [u for u in [case["manager"], *leads.get(case["provider"], [])] if u]
        for audience, field in NEXT_FIELD.items():
            attendees = list(team)
            if audience == "commissioner":
                for org in links.get(case["service"], []):
                    attendees += commissioner_users.get(org, [])
            if case[field]:
                due += rules.review_missed(
                    case_id=case["id"],
                    service=case["service_name"],
                    audience=audience,
                    label=AUDIENCES[audience],
                    on=case[field],
                    people=team,
                    today=today,
                )
                due += rules.review_upcoming(
                    case_id=case["id"],
                    service=case["service_name"],
                    audience=audience,
                    label=AUDIENCES[audience],
                    on=case[field],
                    attendees=attendees,
                    today=today,
                    days_before=settings.review_reminder_days,
                )
    due += await _deadlines(cases, leads, today)
    due += await _monitoring_reviews(commissioner_users, today, settings.review_reminder_days)
    horizon = today + dt.timedelta(days=settings.action_reminder_days)
    actions = await Action.select(
        Action.id, Action.title, Action.due_on, Action.owner, Action.plan.case.as_alias("case_id")
    ).where(
        Action.status.not_in(list(SETTLED))
        & (Action.due_on <= horizon)
        & (Action.plan.case.stage != "closed")
    )
    for a in actions:
        case = by_case.get(a["case_id"])
        if case is None:
            continue
        if a["owner"] not in users:  # none chosen, or the owner's account is inactive
            due += rules.action_needs_owner(
                action_id=a["id"],
                case_id=a["case_id"],
                title=a["title"],
                due_on=a["due_on"],
                managers=[case["manager"]]
                if case["manager"] in users
                else leads.get(case["provider"], []),
                today=today,
                days_before=settings.action_reminder_days,
            )
        due += rules.action_due_soon(
            action_id=a["id"],
            case_id=a["case_id"],
            title=a["title"],
            due_on=a["due_on"],
            owner=a["owner"],
            today=today,
            days_before=settings.action_reminder_days,
        )
        due += rules.action_overdue(
            action_id=a["id"],
            case_id=a["case_id"],
            title=a["title"],
            due_on=a["due_on"],
            owner=a["owner"],
            managers=[case["manager"]] if case["manager"] else [],
            quality_leads=leads.get(case["provider"], []),
            today=today,
        )
    # most due reminders were written by an earlier scan (an overdue action stays due every
    # day): look their keys up in bulk and render and insert only the new ones
    already = await outbox.existing_keys([r.dedupe_key for r in due])
    new = [
        (r, users[r.user_id])
        for r in due
        if r.user_id in users and r.dedupe_key not in already  # else deactivated, or sent
    ]
    written, errors = await _write(new)
    skipped = len(due) - written - errors
    return {"due": len(due), "written": written, "already_written": skipped, "errors": errors}


async def _write(new: list[tuple[Any, dict[str, Any]]]) -> tuple[int, int]:
    """Write the new reminders in transactions of BATCH (a commit each would cost a disk
    flush per row); each in a savepoint, so one bad row is logged and skipped and never
    takes its batch with it. (written, errors)"""
    written = errors = 0
    for start in range(0, len(new), BATCH):
        async with write_tx() as tx:
            for reminder, user in new[start : start + BATCH]:
                savepoint = await tx.savepoint()
                try:
                    if await outbox.enqueue(reminder, user):
                        written += 1
                except Exception:  # one bad row is logged and skipped, never stops the scan
                    await savepoint.rollback_to()
                    errors += 1
                    log.exception("reminder %s could not be written", reminder.dedupe_key)
                else:
                    await savepoint.release()
    return written, errors
