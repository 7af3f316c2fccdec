"""Absurd dates (issue 15 point 7.5): every date people enter must fall between
2000-01-01 and 2100-12-31, and the refusal names the field and the range; and the
calendar feed and the case page still answer whatever date is already stored (one
action due on 9999-12-31 used to break the feed of everyone who could see it).
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import api_token, log_in, viewer_of
from icalendar import Calendar

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.cases.tables import Case
from improve.errors import Invalid
from improve.monitoring import domain as monitoring
from improve.plans import actions
from improve.plans import domain as plans
from improve.plans.tables import Action
from improve.reminders import calendar
from improve.reviews import domain as reviews
from improve.services import ratings
from improve.services.tables import Enforcement, Rating

RANGE = "from 2000-01-01 to 2100-12-31"
ABSURD = ["9999-12-31", "1900-01-01", "0001-01-01", "2101-01-01", "1999-12-31"]
NOW = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    home = await world.service(provider, manager, (council,))
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await cases.record_rating(
            me,
            home["id"],
            {
                "published_on": "2026-04-30",
                "overall": "Inadequate",
                "enforcement": [
                    {
                        "kind": "warning_notice",
                        "regulation": "12",
                        "compliance_due_on": "2026-06-15",
                    }
                ],
            },
        )
        case = await cases.open_case(me, home["id"])
        [action] = await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": "Audit",
                    "theme": "staffing",
                    "due_on": "2026-06-01",
                    "owner": manager["id"],
                }
            ],
        )
        levels = await monitoring.add_default_levels(viewer_of(commissioner))
    assert levels
    return {
        "manager": manager,
        "me": me,
        "commissioner": viewer_of(commissioner),
        "home": home,
        "case": case,
        "action": action,
    }


def _entries(scene):
    """Each place a date is entered: (field, a call that enters `day` there)."""
    me, case, action, home = scene["me"], scene["case"], scene["action"], scene["home"]

    async def action_due(day):
        fresh = await actions.get_action(me, action["id"])
        await actions.update(me, action["id"], {"due_on": day}, version=fresh["version"])

    async def new_action_due(day):
        custom = {"title": "New", "theme": "staffing", "due_on": day}
        await plans.commit(me, case["id"], [], [custom])

    def case_date(name):
        async def enter(day):
            fresh = await cases.get_case(me, case["id"])
            await cases.update_dates(me, case["id"], {name: day}, version=fresh["version"])

        return enter

    async def review_on(day):
        await monitoring.set_level(
            scene["commissioner"],
            home["id"],
            {"level": (await monitoring.levels_page(scene["commissioner"]))[0]["id"]}
            | {"review_on": day},
        )

    async def visited_on(day):
        monitoring.clean_visit({"visited_on": day, "kind": "x", "outcome": "x", "summary": "x"})

    async def published_on(day):
        ratings.clean_rating({"published_on": day, "overall": "Good"})

    def enforcement(name):
        async def enter(day):
            notice = {"kind": "warning_notice", "compliance_due_on": "2026-06-15", name: day}
            ratings.clean_rating(
                {"published_on": "2026-04-30", "overall": "Good", "enforcement": [notice]}
            )

        return enter

    async def held_on(day):
        await reviews.record(
            me,
            case["id"],
            {
                "audience": "internal",
                "held_on": day,
                "attendees": "x",
                "overall_rag": "amber",
                "confidence": "low",
            },
        )

    async def assessed_on(day):
        await assessments.record(me, home["id"], {"assessed_on": day})

    return {
        "due_on": action_due,
        "due_on (new action)": new_action_due,
        "expected_reinspection_on": case_date("expected_reinspection_on"),
        "action_plan_due_on": case_date("action_plan_due_on"),
        "review_on": review_on,
        "visited_on": visited_on,
        "published_on": published_on,
        "compliance_due_on": enforcement("compliance_due_on"),
        "issued_on": enforcement("issued_on"),
        "held_on": held_on,
        "assessed_on": assessed_on,
    }


async def test_every_date_field_refuses_absurd_dates_naming_field_and_range(scene):
    accepted, unclear = [], []
    for label, entry in _entries(scene).items():
        field = label.split(" ")[0]
        for day in ABSURD:
            with clock.frozen(NOW):
                try:
                    await entry(day)
                except Invalid as exc:
                    # the field by its name, or within a list ("custom[1].due_on")
                    named = [v for k, v in exc.errors.items() if k.split(".")[-1] == field]
                    if not named or RANGE not in named[0]:
                        unclear.append(f"{label}={day}: {exc.errors}")
                    continue
            accepted.append(f"{label}={day}")
    assert accepted == [] and unclear == []


async def test_the_api_names_the_field_and_range(client, scene):
    auth = {"Authorization": f"Bearer {await api_token(scene['manager'])}"}
    action = scene["action"]
    with clock.frozen(NOW):
        response = await client.patch(
            f"/api/v1/actions/{action['id']}",
            json={"version": action["version"], "due_on": "9999-12-31"},
            headers=auth,
        )
    assert response.status_code == 422
    assert {"field": "due_on", "message": f"must be a date {RANGE}"} in response.json()["errors"]


async def test_moving_dates_in_bulk_cannot_leave_the_range(scene):
    me, action = scene["me"], scene["action"]
    with clock.frozen(NOW):
        await actions.update(me, action["id"], {"due_on": "2100-12-01"}, version=action["version"])
        with pytest.raises(Invalid) as refused:
            await actions.bulk(me, scene["case"]["id"], [action["id"]], shift_days=60)
    assert RANGE in refused.value.errors["shift_days"]


async def test_the_feed_and_the_case_page_answer_whatever_date_is_stored(client, scene):
    """Dates written before these checks (or by hand) at the calendar's very ends."""
    case_id = scene["case"]["id"]
    last, first = dt.date.max, dt.date.min
    await Action.update({Action.due_on: last}).where(Action.id == scene["action"]["id"])
    await Case.update(
        {
            Case.expected_reinspection_on: last,
            Case.action_plan_due_on: first,
            Case.next_internal_review_on: last,
            Case.next_commissioner_review_on: last,
            Case.published_on: last,
            Case.sustain_until: last,
        }
    ).where(Case.id == case_id)
    await Rating.update({Rating.published_on: last}).where(Rating.service == scene["home"]["id"])
    await Enforcement.update({Enforcement.compliance_due_on: last}).where(
        Enforcement.rating.is_in(
            Rating.select(Rating.id).where(Rating.service == scene["home"]["id"])
        )
    )
    token = await calendar.feed_token_for(scene["manager"]["id"])
    with clock.frozen(NOW):
        feed = await client.get(f"/calendar/{token}.ics")
        assert feed.status_code == 200, feed.text
        events = Calendar.from_ical(feed.text).walk("VEVENT")
        days = {e.decoded("dtstart") for e in events}
        assert last in days
        await log_in(client, scene["manager"])
        for page in (f"/cases/{case_id}", f"/cases/{case_id}/plan", "/my/actions"):
            assert (await client.get(page)).status_code == 200, page
