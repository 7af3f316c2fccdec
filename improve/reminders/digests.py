"""Weekly digests: commissioners get the services they monitor, quality leads their
provider's homes. Once per person and ISO week; people can turn them off (one click from
the email, or their profile)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from improve import clock
from improve.accounts.tables import Role, User
from improve.cases.tables import Case
from improve.monitoring.tables import MonitoringStatus
from improve.plans.statuses import SETTLED
from improve.plans.tables import Action
from improve.reminders import mail
from improve.reminders.tables import Notification, Outbox
from improve.reviews.domain import NEXT_FIELD
from improve.reviews.tables import Review
from improve.services.domain import manager_has_left
from improve.services.tables import Commissioning
from improve.settings import get_settings


def unsubscribe_token(user_id: int) -> str:
    secret = get_settings().secret_key.encode()
    digest = hmac.new(secret, f"digest:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{user_id}.{digest}"


def user_for_token(token: str) -> int | None:
    user_part, _, _ = token.partition(".")
    # ours are ASCII: hmac.compare_digest refuses other text, and "²".isdigit() is True
    if not token.isascii() or not user_part.isdigit():
        return None
    return int(user_part) if hmac.compare_digest(unsubscribe_token(int(user_part)), token) else None


async def set_enabled(user_id: int, enabled: bool) -> None:
    await User.update({User.digests_enabled: enabled}).where(User.id == user_id)


def week_of(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


async def _rows(today: dt.date) -> tuple[list[dict], dict[int, list[int]], dict, dict, dict]:
    cases = (
        await Case.select(
            Case.id,
            Case.service,
            Case.service.name.as_alias("service_name"),
            Case.service.provider.as_alias("provider"),
            Case.service.manager.name.as_alias("manager_name"),
            Case.service.manager.active.as_alias("manager_active"),
            Case.stage,
            Case.expected_reinspection_on,
            *[getattr(Case, f) for f in NEXT_FIELD.values()],
        )
        .where(Case.stage != "closed")
        .order_by(Case.service.name)
    )
    links: dict[int, list[int]] = {}
    for link in await Commissioning.select(Commissioning.service, Commissioning.commissioner):
        links.setdefault(link["commissioner"], []).append(link["service"])
    overdue: dict[int, int] = {}
    for a in await Action.select(Action.plan.case.as_alias("case_id")).where(
        Action.status.not_in(list(SETTLED))
        & (Action.due_on < today)
        & (Action.plan.case.stage != "closed")
    ):
        overdue[a["case_id"]] = overdue.get(a["case_id"], 0) + 1
    rag: dict[int, list[dict]] = {}
    for r in (
        await Review.select(Review.case, Review.held_on, Review.overall_rag)
        .where(Review.held_on >= today - dt.timedelta(days=60))
        .order_by(Review.held_on)
    ):
        rag.setdefault(r["case"], []).append(r)
    # each commissioner's own monitoring level of each service, with its review date
    levels = {
        (m["commissioner"], m["service"]): m
        for m in await MonitoringStatus.select(
            MonitoringStatus.commissioner,
            MonitoringStatus.service,
            MonitoringStatus.level.name.as_alias("level"),
            MonitoringStatus.review_on,
        )
    }
    return cases, links, overdue, rag, levels


def _line(
    case: dict[str, Any], overdue: dict[int, int], rag: dict[int, list[dict]], today: dt.date
) -> dict[str, Any]:
    missed = [f for f in NEXT_FIELD.values() if case[f] and case[f] < today]
    reviews = rag.get(case["id"], [])
    this_week = [r for r in reviews if r["held_on"] > today - dt.timedelta(days=7)]
    before = [r for r in reviews if r["held_on"] <= today - dt.timedelta(days=7)]
    change = ""
    if this_week and before and this_week[-1]["overall_rag"] != before[-1]["overall_rag"]:
        change = f"{before[-1]['overall_rag']} → {this_week[-1]['overall_rag']}"
    days = (
        (case["expected_reinspection_on"] - today).days
        if case["expected_reinspection_on"]
        else None
    )
    return {
        "service": case["service_name"],
        "case_id": case["id"],
        "stage": case["stage"],
        "overdue": overdue.get(case["id"], 0),
        "missed_reviews": len(missed),
        "rag_change": change,
        "days_to_reinspection": days,
        "manager_left": manager_has_left(case),
    }


async def send_weekly(now: dt.datetime | None = None) -> dict[str, Any]:
    """Write this week's digest for every commissioner and quality lead who wants one."""
    with clock.frozen(now or clock.now()):
        today = clock.today()
        cases, links, overdue, rag, levels = await _rows(today)
        users = await User.select(
            User.id, User.email, User.name, User.role, User.organisation
        ).where(
            (User.active == True)  # noqa: E712
            & (User.digests_enabled == True)  # noqa: E712
            & User.role.is_in([Role.COMMISSIONER, Role.QUALITY_LEAD])
        )
        week, written = week_of(today), 0
        for user in users:
            if user["role"] == Role.COMMISSIONER:
                services = set(links.get(user["organisation"], []))
                mine = [c for c in cases if c["service"] in services]
            else:
                mine = [c for c in cases if c["provider"] == user["organisation"]]
            if not mine:
                continue
            lines = [_line(c, overdue, rag, today) for c in mine]
            if user["role"] == Role.COMMISSIONER:
                for line, case in zip(lines, mine, strict=True):
                    level = levels.get((user["organisation"], case["service"]))
                    line["level"] = level["level"] if level else ""
                    line["level_review_on"] = level["review_on"] if level else None
            written += await _write(user, lines, week)
    return {"week": week, "written": written}


async def _write(user: dict[str, Any], lines: list[dict[str, Any]], week: str) -> int:
    settings = get_settings()
    token = unsubscribe_token(user["id"])
    unsubscribe = f"{settings.base_url}/unsubscribe/{token}"
    subject, text, html = mail.render(
        "digest",
        {
            "name": user["name"],
            "lines": lines,
            "week": week,
            "unsubscribe": unsubscribe,
            "subject_of": f"Weekly digest {week}",
            "link": "/",
            "on": None,
        },
    )
    inserted = (
        await Outbox.insert(
            Outbox(
                kind="digest",
                dedupe_key=f"digest:{user['id']}:{week}",
                user=user["id"],
                email=user["email"],
                subject=subject,
                text_body=text,
                html_body=html,
                headers={
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
                status="pending",
                created_at=clock.now(),
            )
        )
        .on_conflict(target=Outbox.dedupe_key, action="DO NOTHING")
        .returning(Outbox.id)
    )
    if not inserted:
        return 0
    await Notification.insert(
        Notification(
            user=user["id"],
            kind="digest",
            title=f"Weekly digest {week}",
            link="/",
            created_at=clock.now(),
        )
    )
    return 1
