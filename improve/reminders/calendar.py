"""A person's improvement dates as a calendar they subscribe to (Outlook, Google, Apple).

The emails remind once; the calendar shows the whole run of dates where a manager plans
their weeks: each open case's deadlines (action plan to CQC, warning notice compliance,
expected re-inspection, end of special measures), its next reviews, and the person's own
open actions. A calendar app cannot log in, so the feed's address carries a token: an
HMAC of the person and their current password hash. Changing the password changes the
address, which is how a leaked one is revoked.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from typing import Any

from icalendar import Calendar, Event

from improve import access, clock
from improve.access import Viewer, viewer_columns, viewer_from_row
from improve.accounts.tables import Role, User
from improve.cases import deadlines
from improve.cases.domain import CASE_COLUMNS
from improve.cases.stages import Stage
from improve.cases.tables import Case
from improve.plans.domain import SETTLED
from improve.plans.tables import Action
from improve.reviews.domain import AUDIENCES
from improve.services import ratings
from improve.settings import get_settings

# The dates to plan by; the report's publication and the start of special measures are
# history, shown on the case page's timeline.
CASE_DATES = {"action_plan_due", "warning_notice", "reinspection", "special_measures_limit"}
KEEP_PAST = dt.timedelta(days=30)  # a month back is enough to see what just passed


# --- the address --------------------------------------------------------------------------


def _signature(user_id: int, password_hash: str) -> str:
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"calendar:{user_id}:{password_hash}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode()


def feed_token(user_id: int, password_hash: str) -> str:
    return f"{user_id}-{_signature(user_id, password_hash)}"


async def feed_token_for(user_id: int) -> str:
    row = await User.select(User.password_hash).where(User.id == user_id).first()
    return feed_token(user_id, row["password_hash"])


async def viewer_for_feed(token: str) -> Viewer | None:
    """The active person the feed's token belongs to, or None."""
    if not token.isascii():  # ours are; hmac.compare_digest refuses to compare others
        return None
    user_part, _, signature = token.removesuffix(".ics").partition("-")
    if not user_part.isdigit() or not 0 < int(user_part) < 2**31:
        return None
    row = (
        await User.select(*viewer_columns(User), User.password_hash, User.active)
        .where(User.id == int(user_part))
        .first()
    )
    if row is None or not row["active"]:
        return None
    if not hmac.compare_digest(_signature(row["id"], row["password_hash"]), signature):
        return None
    return viewer_from_row(row)


# --- the dates ----------------------------------------------------------------------------


def case_events(
    case: dict[str, Any], notices: list[deadlines.WarningNotice], role: str, today: dt.date
) -> list[dict[str, Any]]:
    """One case's dates to plan by. Commissioners see the reviews they hold, not the
    provider's internal ones."""
    reviews = [
        (AUDIENCES[audience], case[field])
        for audience, field in (
            ("internal", "next_internal_review_on"),
            ("commissioner", "next_commissioner_review_on"),
        )
        if case[field] and (role != Role.COMMISSIONER or audience == "commissioner")
    ]
    milestones = deadlines.timeline(
        today=today,
        published_on=case["published_on"],
        special_measures_entered=case["special_measures"],
        special_measures_since=case["special_measures_since"],
        action_plan_due_on=case["action_plan_due_on"],
        expected_reinspection_on=case["expected_reinspection_on"],
        warning_notices=notices,
        reviews=reviews,
    )
    return [
        {
            "uid": f"case-{case['id']}-{m.key}-{m.on:%Y%m%d}@improve",
            "on": m.on,
            "summary": f"{case['service_name']}: {m.label}",
            "description": m.note,
            "link": f"/cases/{case['id']}",
        }
        for m in milestones
        if (m.key in CASE_DATES or m.key == "review") and m.on >= today - KEEP_PAST
    ]


def action_event(action: dict[str, Any]) -> dict[str, Any]:
    # the uid stays when the date moves, so the calendar moves the event
    return {
        "uid": f"action-{action['id']}@improve",
        "on": action["due_on"],
        "summary": f"Due: {action['title']} ({action['service_name']})",
        "description": "An action you own in the improvement plan.",
        "link": f"/actions/{action['id']}",
    }


def to_ics(events: list[dict[str, Any]], name: str) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//improve//dates//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    base = get_settings().base_url
    stamp = clock.now()
    for item in sorted(events, key=lambda e: (e["on"], e["uid"])):
        event = Event()
        event.add("uid", item["uid"])
        event.add("dtstamp", stamp)
        event.add("summary", item["summary"])
        event.add("dtstart", item["on"])
        if item["on"] < dt.date.max:  # without DTEND an all-day event lasts the day anyway
            event.add("dtend", item["on"] + dt.timedelta(days=1))
        event.add("url", base + item["link"])
        event.add("description", f"{item['description']}\n{base}{item['link']}".strip())
        event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: time stays free
        calendar.add_component(event)
    return calendar.to_ical().decode()


async def feed_for(viewer: Viewer) -> str:
    """Three queries, whatever the number of cases: the open cases in scope, their
    warning notices, the person's open actions."""
    today = clock.today()
    cases = await Case.select(*CASE_COLUMNS).where(
        Case.service.is_in(access.visible_service_ids(viewer)) & (Case.stage != Stage.CLOSED)
    )
    notices = await ratings.warning_notices_of(
        [c["opening_rating"] for c in cases if c["opening_rating"]]
    )
    mine = await Action.select(
        Action.id,
        Action.title,
        Action.due_on,
        Action.plan.case.service.name.as_alias("service_name"),
    ).where(
        (Action.owner == viewer.user_id)
        & Action.status.not_in(list(SETTLED))
        & (Action.plan.case.stage != Stage.CLOSED)
        & Action.plan.case.service.is_in(access.visible_service_ids(viewer))
    )
    events = [
        event
        for case in cases
        for event in case_events(
            case,
            [
                deadlines.WarningNotice(n["regulation"], n["compliance_due_on"])
                for n in notices.get(case["opening_rating"], [])
            ],
            viewer.role,
            today,
        )
    ]
    events += [action_event(a) for a in mine]
    return to_ics(events, f"improve: {viewer.name}")
