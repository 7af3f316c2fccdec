"""Progress reviews: cadences, recording schedules the next one, missed reviews, new
actions join the plan, commissioners record their own reviews."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import csrf_token, log_in, viewer_of

from improve import clock, history
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Forbidden, Invalid
from improve.plans import domain as plans
from improve.reviews import brief
from improve.reviews import domain as reviews

OPENED = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
REVIEW = {
    "audience": "internal",
    "held_on": "2026-05-18",
    "attendees": "Manager, quality lead",
    "rag_leadership": "amber",
    "rag_staffing": "red",
    "overall_rag": "amber",
    "confidence": "medium",
    "notes": "Night staffing still short.",
    "decisions": "Block-book two agency nurses.",
}


@pytest.fixture
async def case(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    service = await world.service(provider, manager, (council,))
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        opened = await cases.open_case(me, service["id"])
    return {"case": opened, "manager": me, "commissioner": viewer_of(commissioner)}


async def test_a_new_case_has_its_first_reviews_scheduled(case):
    c = case["case"]
    assert c["next_internal_review_on"] == dt.date(2026, 5, 18)
    assert c["next_commissioner_review_on"] == dt.date(2026, 6, 3)
    with clock.frozen(OPENED):
        view = await cases.case_view(case["manager"], c["id"])
    labels = [m.label for m in view["milestones"] if m.key == "review"]
    assert labels == ["Internal review (manager and quality lead)", "Commissioner review"]


async def test_recording_a_review_schedules_the_next_and_adds_actions(case):
    me, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(OPENED + dt.timedelta(days=15)):
        review = await reviews.record(
            me,
            case_id,
            REVIEW,
            [{"title": "Block-book agency nurses", "theme": "staffing", "due_on": "2026-05-25"}],
        )
        fresh = await cases.get_case(me, case_id)
    assert review["rag"] == {"leadership": "amber", "staffing": "red"}
    assert fresh["next_internal_review_on"] == dt.date(2026, 6, 1)  # 18 May + 14 days
    titles = [a["title"] for a in await plans.actions_of(me, case_id)]
    assert titles == ["Block-book agency nurses"]
    events = await history.feed(me, case_id, entity="review")
    assert events[0]["action"] == "recorded"


async def test_missed_reviews_show_as_overdue(case):
    with clock.frozen(OPENED + dt.timedelta(days=20)):
        due = reviews.due_reviews(case["case"], clock.today())
        view = await cases.case_view(case["manager"], case["case"]["id"])
    assert [(r["audience"], r["missed"]) for r in due] == [
        ("internal", True),
        ("commissioner", False),
    ]
    assert any(m.label.startswith("Missed: Internal") for m in view["milestones"])


async def test_bad_review_input_names_each_field(case):
    with clock.frozen(OPENED), pytest.raises(Invalid) as refused:
        await reviews.record(
            case["manager"],
            case["case"]["id"],
            {"audience": "internal", "held_on": "2026-06-30", "rag_staffing": "purple"},
        )
    assert set(refused.value.errors) == {
        "held_on",
        "rag_staffing",
        "overall_rag",
        "confidence",
        "attendees",
    }


async def test_commissioners_record_their_reviews_but_not_internal_ones(case):
    commissioner, case_id = case["commissioner"], case["case"]["id"]
    with clock.frozen(OPENED + dt.timedelta(days=30)):
        with pytest.raises(Forbidden):
            await reviews.record(commissioner, case_id, REVIEW)
        with pytest.raises(Forbidden):
            await reviews.record(
                commissioner,
                case_id,
                {**REVIEW, "audience": "commissioner"},
                [{"title": "x", "theme": "staffing", "due_on": "2026-07-01"}],
            )
        review = await reviews.record(commissioner, case_id, {**REVIEW, "audience": "commissioner"})
    assert review["recorded_by_name"] == commissioner.name


async def test_cadence_can_be_changed_per_case(case):
    with clock.frozen(OPENED):
        updated = await reviews.set_cadence(
            case["manager"], case["case"]["id"], {"internal_review_days": "7"}
        )
        with pytest.raises(Invalid):
            await reviews.set_cadence(
                case["manager"], case["case"]["id"], {"commissioner_review_days": "3"}
            )
    assert updated["internal_review_days"] == 7
    assert updated["next_internal_review_on"] == dt.date(2026, 5, 11)


async def test_the_case_keeps_its_last_review_and_first_green_one(case):
    from improve.cases.tables import Case

    me, case_id = case["manager"], case["case"]["id"]

    async def kept():
        return (
            await Case.select(Case.last_review_on, Case.last_review_rag, Case.first_green_review_on)
            .where(Case.id == case_id)
            .first()
        )

    assert await kept() == {
        "last_review_on": None,
        "last_review_rag": "",
        "first_green_review_on": None,
    }
    with clock.frozen(OPENED + dt.timedelta(days=30)):
        await reviews.record(
            me, case_id, {**REVIEW, "held_on": "2026-06-01", "overall_rag": "green"}
        )
        await reviews.record(me, case_id, {**REVIEW, "held_on": "2026-06-02", "overall_rag": "red"})
        # recorded late, with an earlier date: it is neither the last nor the first green
        await reviews.record(
            me, case_id, {**REVIEW, "held_on": "2026-05-20", "overall_rag": "amber"}
        )
    assert await kept() == {
        "last_review_on": dt.date(2026, 6, 2),
        "last_review_rag": "red",
        "first_green_review_on": dt.date(2026, 6, 1),
    }


def _action(id, theme, status, due, done_on=None, verified_on=None, blocked_reason=""):
    return {
        "id": id, "theme": theme, "title": f"A{id}", "owner_name": None,
        "due_on": due, "status": status, "done_on": done_on, "verified_on": verified_on,
        "blocked_reason": blocked_reason, "overdue": status not in ("done", "verified")
        and due < dt.date(2026, 6, 1),
    }  # fmt: skip


def test_the_brief_sets_each_theme_beside_its_last_colour():
    today = dt.date(2026, 6, 1)
    actions = [
        _action(1, "staffing", "done", dt.date(2026, 5, 20), done_on=dt.date(2026, 5, 10)),
        _action(2, "staffing", "verified", dt.date(2026, 5, 25), dt.date(2026, 5, 20),
                verified_on=dt.date(2026, 5, 28)),
        _action(3, "leadership", "in_progress", dt.date(2026, 5, 30)),
        _action(4, "leadership", "blocked", dt.date(2026, 6, 9), blocked_reason="No budget"),
    ]  # fmt: skip
    last = {"held_on": dt.date(2026, 5, 18), "rag": {"staffing": "red"}, "overall_rag": "amber"}
    out = brief.compose(actions, last, today)
    themes = {t["theme"]: t for t in out["themes"]}
    assert (themes["staffing"]["finished"], themes["staffing"]["last_rag"]) == (2, "red")
    assert (themes["leadership"]["finished"], themes["leadership"]["last_rag"]) == (0, "")
    # done on 10 May was before the last review; verified on 28 May was after it
    assert [a["id"] for a in out["finished_since"]] == [2]
    assert [a["id"] for a in out["plan"]["overdue"]] == [3]
    assert [a["id"] for a in out["plan"]["blocked"]] == [4]
    first = brief.compose(actions, None, today)  # no review yet: everything finished counts
    assert first["since"] is None and [a["id"] for a in first["finished_since"]] == [1, 2]


async def test_the_review_form_shows_where_the_plan_stands(case, client):
    me, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(OPENED + dt.timedelta(days=15)):
        await reviews.record(
            me, case_id, REVIEW,
            [{"title": "Block-book agency nurses", "theme": "staffing", "due_on": "2026-05-25"}],
        )  # fmt: skip
    await log_in(client, {"id": me.user_id})
    with clock.frozen(OPENED + dt.timedelta(days=30)):
        page = (await client.get(f"/cases/{case_id}/reviews/new")).text
    aside = page.split('id="brief-h"')[1]
    assert "0 of 1</td>" in aside and ">Red</span>" in aside  # staffing, red last time
    assert "Block-book agency nurses</a>, due 25 May 2026" in aside  # overdue
    assert "0 of 1 actions done; last review: Red" in page  # beside the staffing choice


async def test_a_refused_review_form_keeps_what_was_typed(case, client):
    case_id = case["case"]["id"]
    await log_in(client, {"id": case["manager"].user_id})
    token = await csrf_token(client)
    form = {**REVIEW, "_csrf_token": token, "overall_rag": "", "action_1_title": "Night audit",
            "action_1_theme": "staffing", "action_1_due": "2026-06-30"}  # fmt: skip
    refused = await client.post(f"/cases/{case_id}/reviews/new", data=form)
    assert refused.status_code == 400 and "overall_rag" in refused.text
    assert '<option value="staffing" selected>Staffing</option>' in refused.text
    assert 'value="Night audit"' in refused.text and 'value="2026-06-30"' in refused.text
