"""Commissioners' monitoring: their own levels, a level per service with a review date
the reminder jobs remind about, and visits whose findings join the one case."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.cases.tables import Case, Finding
from improve.errors import Forbidden, Invalid, NotFound
from improve.monitoring import domain as monitoring
from improve.reminders.tables import Outbox

NOW = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
async def council(world):
    org = await world.org(OrgKind.COMMISSIONER, "Council")
    other = await world.org(OrgKind.COMMISSIONER, "Other council")
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    home = await world.service(provider, manager, (org,))
    quiet = await world.service(provider, manager, (org,))
    elsewhere = await world.service(provider, manager, (other,))
    return {
        "viewer": viewer_of(await world.user(org, Role.COMMISSIONER)),
        "other": viewer_of(await world.user(other, Role.COMMISSIONER)),
        "manager": viewer_of(manager),
        "admin": viewer_of(await world.admin()),
        "home": home,
        "quiet": quiet,
        "elsewhere": elsewhere,
    }


async def test_each_organisation_has_its_own_levels(council):
    assert await monitoring.add_default_levels(council["viewer"]) == 4
    assert await monitoring.add_default_levels(council["viewer"]) == 0  # once
    own = await monitoring.levels_of(council["viewer"].organisation_id)
    assert [lv["name"] for lv in own][0] == "Routine"
    assert await monitoring.levels_of(council["other"].organisation_id) == []
    added = await monitoring.add_level(
        council["other"], {"name": "Red", "rank": "3", "review_every_days": "14"}
    )
    assert added["name"] == "Red"
    with pytest.raises(Invalid) as bad:
        await monitoring.add_level(council["other"], {"name": "", "rank": "0"})
    assert set(bad.value.errors) == {"name", "rank", "review_every_days"}
    with pytest.raises(Forbidden):
        await monitoring.add_level(council["manager"], {"name": "X", "rank": 1})


async def test_a_level_is_set_with_a_review_date_and_reminded_once(council):
    from jobs import reminders

    await monitoring.add_default_levels(council["viewer"])
    levels = {
        lv["name"]: lv for lv in await monitoring.levels_of(council["viewer"].organisation_id)
    }
    with clock.frozen(NOW):
        status = await monitoring.set_level(
            council["viewer"], council["home"]["id"], {"level": levels["Provider concerns"]["id"]}
        )
        assert status["level_name"] == "Provider concerns"
        assert status["review_on"] == dt.date(2026, 6, 29)  # the level's 28 days
        status = await monitoring.set_level(
            council["viewer"],
            council["home"]["id"],
            {"level": levels["Enhanced monitoring"]["id"], "review_on": "2026-06-03"},
        )
        assert status["level_name"] == "Enhanced monitoring"  # replaced, not duplicated
        with pytest.raises(Invalid) as bad:
            await monitoring.set_level(
                council["viewer"], council["home"]["id"], {"level": "0", "review_on": "2020-01-01"}
            )
        assert set(bad.value.errors) == {"level", "review_on"}
    # another council's level cannot be used, and its services are out of scope
    with pytest.raises(Invalid):
        await monitoring.set_level(
            council["other"], council["elsewhere"]["id"], {"level": levels["Routine"]["id"]}
        )
    with pytest.raises(NotFound):
        await monitoring.set_level(
            council["other"], council["home"]["id"], {"level": levels["Routine"]["id"]}
        )
    with pytest.raises(Forbidden):
        await monitoring.set_level(council["manager"], council["home"]["id"], {"level": 1})
    first = await reminders.scan(dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC))
    second = await reminders.scan(dt.datetime(2026, 6, 1, 10, 15, tzinfo=dt.UTC))
    del first, second
    sent = await Outbox.select(Outbox.email, Outbox.subject).where(
        (Outbox.kind == "monitoring_review") & Outbox.subject.like(f"%{council['home']['name']}%")
    )
    assert [s["email"] for s in sent] == [council["viewer"].email]
    assert council["home"]["name"] in sent[0]["subject"]


async def test_a_visit_joins_the_open_case(council):
    home = council["home"]["id"]
    await cases.record_rating(
        council["admin"], home, {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(council["admin"], home)
    with clock.frozen(NOW):
        visit = await monitoring.record_visit(
            council["viewer"],
            home,
            {
                "visited_on": "2026-05-28",
                "kind": "quality_audit",
                "outcome": "poor",
                "summary": "Medicines and staffing",
                "findings": [
                    {
                        "regulation": "12",
                        "key_question": "safe",
                        "items": ["safe.medicines"],
                        "description": "Gaps in MAR charts",
                    },
                    {"regulation": "18", "key_question": "safe", "description": "Night cover"},
                ],
            },
        )
    assert visit["case_id"] == case["id"] and not visit["case_opened"]
    assert visit["action_plan_due_on"] == dt.date(2026, 6, 11)  # 14 days (PAMMS)
    rows = await Finding.select(Finding.source).where(Finding.case == case["id"])
    assert sorted(r["source"] for r in rows).count("commissioner_visit") == 2
    assert await Case.count().where(Case.service == home) == 1  # one plan, not two
    from jobs import reminders

    await reminders.scan(dt.datetime(2026, 6, 5, 10, tzinfo=dt.UTC))
    due = await Outbox.select(Outbox.subject).where(
        (Outbox.kind == "deadline_near") & (Outbox.case == case["id"])
    )
    assert any("Action plan due to" in d["subject"] for d in due)


async def test_a_commissioners_concern_opens_a_case_without_an_inadequate_rating(council):
    home = council["quiet"]["id"]
    with clock.frozen(NOW):
        visit = await monitoring.record_visit(
            council["viewer"],
            home,
            {
                "visited_on": "2026-05-30",
                "kind": "unannounced",
                "outcome": "requires_improvement",
                "summary": "Safeguarding concerns not referred",
                "findings": [
                    {"regulation": "13", "key_question": "safe", "description": "Not referred"}
                ],
            },
        )
    assert visit["case_opened"]
    case = await cases.get_case(council["admin"], visit["case_id"])
    assert case["opening_rating"] is None and case["special_measures"] is False
    assert case["action_plan_due_on"] == dt.date(2026, 6, 13)


async def test_a_visit_that_needs_a_plan_needs_its_findings(council):
    with clock.frozen(NOW), pytest.raises(Invalid) as bad:
        await monitoring.record_visit(
            council["viewer"],
            council["quiet"]["id"],
            {
                "visited_on": "2026-07-01",
                "kind": "x",
                "outcome": "poor",
                "summary": "",
                "findings": [{"regulation": "99", "key_question": "safe", "description": "x"}],
            },
        )
    assert {"visited_on", "kind", "summary", "findings[0].regulation"} <= set(bad.value.errors)
    assert await Case.count().where(Case.service == council["quiet"]["id"]) == 0


async def test_a_visit_without_a_date_is_refused_by_name(council):
    with pytest.raises(Invalid) as bad:
        await monitoring.record_visit(council["viewer"], council["quiet"]["id"], {"outcome": "x"})
    assert bad.value.errors["visited_on"] == "is required"


async def test_the_history_says_whether_a_level_changed_or_only_its_review_date(council):
    from improve.cases.tables import AuditEvent
    from improve.history_words import in_words

    await monitoring.add_default_levels(council["viewer"])
    levels = {
        lv["name"]: lv for lv in await monitoring.levels_of(council["viewer"].organisation_id)
    }
    home = council["home"]["id"]
    with clock.frozen(NOW):
        for review_on in ("2026-06-20", "2026-07-01"):
            await monitoring.set_level(
                council["viewer"],
                home,
                {"level": levels["Provider concerns"]["id"], "review_on": review_on},
            )
    events = (
        await AuditEvent.select(AuditEvent.summary, AuditEvent.before, AuditEvent.after)
        .where((AuditEvent.service == home) & (AuditEvent.entity == "monitoring"))
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )
    assert [e["summary"].split(": ", 1)[1] for e in events] == [
        "monitoring level none → Provider concerns, next review 20 Jun 2026",
        "monitoring level kept at Provider concerns, next review 1 Jul 2026",
    ]
    assert in_words("monitoring", events[1]["before"], events[1]["after"]) == [
        {"label": "Monitoring level", "was": "Provider concerns", "now": "Provider concerns"},
        {"label": "Review level by", "was": "20 Jun 2026", "now": "1 Jul 2026"},
    ]
    first = in_words("monitoring", events[0]["before"], events[0]["after"])
    assert first[0] == {"label": "Monitoring level", "was": "none set", "now": "Provider concerns"}
