"""The calendar feed: a person's case deadlines, next reviews and own open actions, at an
address that is its own key (changing the password changes it), in fixed queries."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import log_in, viewer_of
from icalendar import Calendar

from improve import clock
from improve.accounts import people
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.plans import actions
from improve.plans import domain as plans
from improve.reminders import calendar

NOW = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)
RATING = {
    "published_on": "2026-04-30",
    "overall": "Inadequate",
    "safe": "Inadequate",
    "enforcement": [
        {"kind": "warning_notice", "regulation": "12", "compliance_due_on": "2026-06-15"}
    ],
}


async def _home(world, provider, manager, council, name):
    service = await world.service(provider, manager, (council,), name)
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await cases.record_rating(me, service["id"], RATING)
        case = await cases.open_case(me, service["id"])
    return case


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Mo Manager")
    lead = await world.user(provider, Role.QUALITY_LEAD)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    case = await _home(world, provider, manager, council, "Oak House")
    me = viewer_of(manager)
    with clock.frozen(NOW):
        mine, done, theirs = await plans.commit(
            me,
            case["id"],
            [],
            [
                {"title": "Fix MAR charts", "theme": "staffing", "due_on": "2026-06-01",
                 "owner": manager["id"]},
                {"title": "Night audit", "theme": "staffing", "due_on": "2026-06-02",
                 "owner": manager["id"]},
                {"title": "Train seniors", "theme": "staffing", "due_on": "2026-06-03",
                 "owner": lead["id"]},
            ],
        )  # fmt: skip
        await actions.update(me, done["id"], {"status": "done"}, version=done["version"])
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    return {
        "manager": manager,
        "commissioner": commissioner,
        "stranger": stranger,
        "case": case,
        "mine": mine,
        "theirs": theirs,
        "provider": provider,
        "council": council,
    }


def _events(ics: str) -> dict[str, dict]:
    parsed = Calendar.from_ical(ics)
    return {
        str(e["uid"]): {"summary": str(e["summary"]), "on": e.decoded("dtstart")}
        for e in parsed.walk("VEVENT")
    }


async def test_a_managers_calendar_holds_the_cases_deadlines_reviews_and_own_actions(scene):
    case_id, home = scene["case"]["id"], scene["case"]["service_name"]
    with clock.frozen(NOW):
        events = _events(await calendar.feed_for(viewer_of(scene["manager"])))
    summaries = {e["summary"]: e["on"] for e in events.values()}
    assert summaries[f"{home}: Action plan due to CQC"] == dt.date(2026, 5, 28)
    assert summaries[f"{home}: Warning notice compliance date (regulation 12)"] == dt.date(
        2026, 6, 15
    )
    assert f"{home}: Expected re-inspection" in summaries
    assert f"{home}: Special measures period normally ends" in summaries
    assert f"{home}: Internal review (manager and quality lead)" in summaries
    assert f"{home}: Commissioner review" in summaries
    assert summaries[f"Due: Fix MAR charts ({home})"] == dt.date(2026, 6, 1)
    assert not any("Night audit" in s for s in summaries)  # done: nothing left to do
    assert not any("Train seniors" in s for s in summaries)  # someone else's
    assert not any("Report published" in s for s in summaries)  # history, not a date ahead
    # an action keeps its event when its date moves, so the calendar moves it
    assert f"action-{scene['mine']['id']}@improve" in events
    assert all(uid.startswith((f"case-{case_id}-", "action-")) for uid in events)


async def test_a_commissioner_sees_the_reviews_it_holds_and_not_the_providers(scene):
    home = scene["case"]["service_name"]
    with clock.frozen(NOW):
        events = _events(await calendar.feed_for(viewer_of(scene["commissioner"])))
        stranger = _events(await calendar.feed_for(viewer_of(scene["stranger"])))
    summaries = {e["summary"] for e in events.values()}
    assert f"{home}: Commissioner review" in summaries
    assert f"{home}: Internal review (manager and quality lead)" not in summaries
    assert not any(s.startswith("Due:") for s in summaries)
    assert stranger == {}  # another provider's case is not in its scope


async def test_dates_more_than_a_month_past_drop_off(scene):
    home = scene["case"]["service_name"]
    with clock.frozen(NOW + dt.timedelta(days=60)):
        events = _events(await calendar.feed_for(viewer_of(scene["manager"])))
    summaries = {e["summary"] for e in events.values()}
    assert f"{home}: Action plan due to CQC" not in summaries  # 28 May, two months ago
    assert f"Due: Fix MAR charts ({home})" in summaries  # still open: still shown


async def test_the_address_is_the_key_and_a_new_password_changes_it(scene, client):
    manager = scene["manager"]
    token = await calendar.feed_token_for(manager["id"])
    assert (await calendar.viewer_for_feed(token + ".ics")).user_id == manager["id"]
    user_part, signature = token.split("-", 1)
    for forged in (
        f"{scene['stranger']['id']}-{signature}",
        f"{user_part}-{signature[:-2]}AA",
        "",
        "x-y",
        "99999999999-abc",
    ):
        assert await calendar.viewer_for_feed(forged) is None, forged
    feed = await client.get(f"/calendar/{token}.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    assert scene["case"]["service_name"] in feed.text
    await log_in(client, manager)
    profile = await client.get("/profile")
    assert f"http://testserver.local/calendar/{token}.ics" in profile.text
    await people.set_password(manager["id"], "a brand new password")
    assert (await client.get(f"/calendar/{token}.ics")).status_code == 404
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    fresh = await calendar.feed_token_for(manager["id"])
    assert await calendar.viewer_for_feed(fresh) is None  # deactivated: no feed at all


async def test_the_feed_costs_the_same_queries_for_one_case_or_many(scene, world, count_queries):
    viewer = viewer_of(scene["commissioner"])
    counts = []
    for more in (0, 5):
        for n in range(more):
            await _home(world, scene["provider"], scene["manager"], scene["council"], f"H{n}")
        count_queries["n"] = 0
        with clock.frozen(NOW):
            await calendar.feed_for(viewer)
        counts.append(count_queries["n"])
    assert counts[0] == counts[1] <= 3, counts
