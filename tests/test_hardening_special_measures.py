"""Special measures exactly as shared/domain.md ("After an Inadequate rating") states them:
one test per route in and out, then the case's stages following them.

- Inadequate overall: in at once.
- Inadequate in a key question (not overall): re-inspected; if any key question is still
  Inadequate then, in.
- In special measures and any key question still Inadequate at re-inspection: stays in,
  CQC moves to cancel or restrict registration and inspects again; the whole period is
  normally no more than 12 months.
- Out: no key question (and not overall) Inadequate any more; it need not reach Good.
"""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import viewer_of

from improve import clock, history
from improve.accounts.tables import OrgKind, Role
from improve.api.cases import CaseOut
from improve.cases import domain as cases
from improve.cases.casefile import _case_text
from improve.cases.special_measures import (
    PublishedRating,
    Route,
    special_measures_status,
)
from improve.cases.stages import Stage, after_new_rating
from improve.reminders import calendar

GOOD = dict.fromkeys(("safe", "effective", "caring", "responsive", "well_led"), "good")
RI = dict.fromkeys(GOOD, "requires_improvement")


def rating(on: str, overall: str, **kqs: str) -> PublishedRating:
    return PublishedRating(dt.date.fromisoformat(on), overall, {**GOOD, **kqs})


OVERALL_INADEQUATE = rating("2026-01-15", "inadequate", safe="inadequate", well_led="inadequate")
SAFE_INADEQUATE = rating("2026-01-15", "requires_improvement", safe="inadequate")


# --- routes in ------------------------------------------------------------------------


def test_in_rated_inadequate_overall_enters_at_once():
    status = special_measures_status([OVERALL_INADEQUATE])
    assert status.in_special_measures and status.route == Route.ENTERED_INADEQUATE_OVERALL
    assert status.since == dt.date(2026, 1, 15)
    assert "tell the people who use the service" in status.note


def test_in_inadequate_in_one_key_question_is_not_special_measures_until_reinspection():
    status = special_measures_status([SAFE_INADEQUATE])
    assert not status.in_special_measures and status.since is None
    assert status.route == Route.KEY_QUESTION_INADEQUATE
    assert "re-inspects within about 6 months" in status.note
    assert "in Safe" in status.note


def test_in_still_inadequate_in_the_same_key_question_at_reinspection_enters():
    reinspection = rating("2026-07-20", "requires_improvement", safe="inadequate")
    status = special_measures_status([SAFE_INADEQUATE, reinspection])
    assert status.in_special_measures
    assert status.route == Route.ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION
    assert status.since == dt.date(2026, 7, 20)
    assert not status.registration_at_risk  # that comes at a re-inspection while in


def test_in_inadequate_in_another_key_question_at_reinspection_enters():
    # "if any key question is still Inadequate then": Safe recovered, Well-led did not
    reinspection = rating(
        "2026-07-20", "requires_improvement", safe="requires_improvement", well_led="inadequate"
    )
    status = special_measures_status([SAFE_INADEQUATE, reinspection])
    assert status.in_special_measures and status.since == dt.date(2026, 7, 20)
    assert status.route == Route.ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION


def test_in_inadequate_overall_at_the_reinspection_of_a_key_question_enters():
    reinspection = rating("2026-07-20", "inadequate", safe="inadequate", caring="inadequate")
    status = special_measures_status([SAFE_INADEQUATE, reinspection])
    assert status.in_special_measures and status.since == dt.date(2026, 7, 20)


def test_in_needs_consecutive_inspections_a_clear_one_between_starts_again():
    clear = rating("2026-07-20", "requires_improvement", **RI)
    again = rating("2027-02-01", "requires_improvement", well_led="inadequate")
    status = special_measures_status([SAFE_INADEQUATE, clear, again])
    assert not status.in_special_measures and status.route == Route.KEY_QUESTION_INADEQUATE


# --- staying in -------------------------------------------------------------------------


def test_stays_in_when_still_inadequate_in_a_key_question_though_better_overall():
    """Requires improvement overall with Well-led still Inadequate has not recovered."""
    reinspection = rating("2026-07-20", "requires_improvement", well_led="inadequate")
    status = special_measures_status([OVERALL_INADEQUATE, reinspection])
    assert status.in_special_measures and status.route == Route.STILL_INADEQUATE
    assert status.since == dt.date(2026, 1, 15)  # the period runs from when it entered
    assert status.registration_at_risk
    assert "cancel or restrict its registration" in status.note
    assert "inspects again within about 6 months" in status.note
    assert "in Well-led" in status.note


def test_stays_in_when_still_inadequate_overall_at_reinspection():
    reinspection = rating("2026-07-20", "inadequate", safe="inadequate", effective="inadequate")
    status = special_measures_status([OVERALL_INADEQUATE, reinspection])
    assert status.route == Route.STILL_INADEQUATE and status.registration_at_risk


def test_stays_in_at_a_further_reinspection_the_12_month_period_is_over():
    second = rating("2026-07-20", "requires_improvement", safe="inadequate")
    third = rating("2027-01-25", "requires_improvement", safe="inadequate")
    status = special_measures_status([OVERALL_INADEQUATE, second, third])
    assert status.still_inadequate_reinspections == 2 and status.registration_at_risk
    assert "no more than 12 months" in status.note
    assert "cancel or restrict" in status.note


# --- route out --------------------------------------------------------------------------


def test_out_when_no_longer_inadequate_anywhere_without_reaching_good():
    reinspection = rating("2026-07-20", "requires_improvement", **RI)
    status = special_measures_status([OVERALL_INADEQUATE, reinspection])
    assert not status.in_special_measures and status.route == Route.LEFT
    assert status.since is None and not status.registration_at_risk
    assert "leaves special measures" in status.note and "need not reach Good" in status.note


def test_out_of_special_measures_entered_through_a_key_question():
    second = rating("2026-07-20", "requires_improvement", safe="inadequate")
    third = rating("2027-01-25", "good", **GOOD)
    assert special_measures_status([SAFE_INADEQUATE, second, third]).route == Route.LEFT


def test_after_leaving_a_key_question_inadequate_again_starts_the_rule_afresh():
    left = rating("2026-07-20", "requires_improvement", **RI)
    fell = rating("2028-03-01", "requires_improvement", well_led="inadequate")
    status = special_measures_status([OVERALL_INADEQUATE, left, fell])
    assert not status.in_special_measures and status.route == Route.KEY_QUESTION_INADEQUATE
    still = rating("2028-09-01", "requires_improvement", well_led="inadequate")
    assert special_measures_status([OVERALL_INADEQUATE, left, fell, still]).in_special_measures


def test_the_history_is_read_in_order_of_publication_and_unrated_ones_are_passed_over():
    reinspection = rating("2026-07-20", "requires_improvement", safe="inadequate")
    nothing = PublishedRating(dt.date(2026, 9, 1), "", dict.fromkeys(GOOD, ""))
    status = special_measures_status([nothing, reinspection, SAFE_INADEQUATE])
    assert status.in_special_measures and status.since == dt.date(2026, 7, 20)


# --- the case's stage follows -----------------------------------------------------------


def test_stage_moves_to_sustaining_only_when_the_service_leaves_special_measures():
    left = special_measures_status([OVERALL_INADEQUATE, rating("2026-07-20", "good", **RI)])
    effect = after_new_rating(Stage.AWAITING_REINSPECTION, left)
    assert effect.stage == Stage.SUSTAINING and not effect.special_measures
    assert "leaves special measures" in effect.note
    still = special_measures_status(
        [OVERALL_INADEQUATE, rating("2026-07-20", "requires_improvement", well_led="inadequate")]
    )
    effect = after_new_rating(Stage.AWAITING_REINSPECTION, still)
    assert effect.stage == Stage.AWAITING_REINSPECTION and effect.special_measures
    assert effect.special_measures_since == dt.date(2026, 1, 15)


def test_stage_stays_when_a_key_question_still_inadequate_puts_the_service_in():
    status = special_measures_status(
        [SAFE_INADEQUATE, rating("2026-07-20", "requires_improvement", safe="inadequate")]
    )
    effect = after_new_rating(Stage.DELIVERING, status)
    assert effect.stage == Stage.DELIVERING and effect.special_measures
    assert effect.special_measures_since == dt.date(2026, 7, 20)
    assert "enters special measures" in effect.note


def test_stage_moves_to_sustaining_when_a_key_question_recovers_outside_special_measures():
    status = special_measures_status([SAFE_INADEQUATE, rating("2026-07-20", "good", **RI)])
    effect = after_new_rating(Stage.AWAITING_REINSPECTION, status)
    assert effect.stage == Stage.SUSTAINING and not effect.special_measures


@pytest.mark.parametrize(
    ("fall", "in_special_measures"),
    [
        (rating("2027-09-01", "requires_improvement", caring="inadequate"), False),
        (rating("2027-09-01", "inadequate", caring="inadequate", safe="inadequate"), True),
    ],
)
def test_stage_returns_to_delivering_when_sustaining_falls_back_anywhere(fall, in_special_measures):
    left = rating("2026-07-20", "requires_improvement", **RI)
    effect = after_new_rating(
        Stage.SUSTAINING, special_measures_status([OVERALL_INADEQUATE, left, fall])
    )
    assert effect.stage == Stage.DELIVERING
    assert effect.special_measures is in_special_measures
    assert "fell back" in effect.note


# --- through the database: opening a case, recording ratings ---------------------------


@pytest.fixture
async def home(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    return {"service": service["id"], "manager": viewer_of(manager)}


def _form(on: str, overall: str, **kqs: str) -> dict:
    return {"published_on": on, "overall": overall, **{**GOOD, **kqs}}


async def _record(home, when: str, form: dict) -> str:
    with clock.frozen(dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)):
        _, created, note = await cases.record_rating(home["manager"], home["service"], form)
    assert created
    return note


async def test_a_case_opened_from_a_second_key_question_inadequate_is_in_special_measures(home):
    await _record(
        home, "2026-02-01", _form("2026-01-15", "Requires improvement", safe="Inadequate")
    )
    await _record(
        home, "2026-08-01", _form("2026-07-20", "Requires improvement", well_led="Inadequate")
    )
    with clock.frozen(dt.datetime(2026, 8, 1, tzinfo=dt.UTC)):
        case = await cases.open_case(home["manager"], home["service"])
    assert case["special_measures"] and case["special_measures_since"] == dt.date(2026, 7, 20)


async def test_a_case_opened_from_one_key_question_enters_at_its_reinspection(home):
    me = home["manager"]
    await _record(
        home, "2026-02-01", _form("2026-01-15", "Requires improvement", safe="Inadequate")
    )
    with clock.frozen(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)):
        case = await cases.open_case(me, home["service"])
    assert not case["special_measures"] and case["special_measures_since"] is None
    note = await _record(
        home, "2026-08-01", _form("2026-07-20", "Requires improvement", safe="Inadequate")
    )
    assert "enters special measures" in note
    case = await cases.get_case(me, case["id"])
    # still Inadequate in a key question: not recovered, so not sustaining
    assert case["stage"] == "assessing" and case["special_measures"]
    assert case["special_measures_since"] == dt.date(2026, 7, 20)
    with clock.frozen(dt.datetime(2026, 8, 1, tzinfo=dt.UTC)):
        view = await cases.case_view(me, case["id"])
        events = calendar.case_events(case, [], Role.REGISTERED_MANAGER, clock.today())
    by_key = {m.key: m.on for m in view["milestones"]}
    assert by_key["special_measures"] == dt.date(2026, 7, 20)
    assert by_key["special_measures_limit"] == dt.date(2027, 7, 20)
    limit = [e for e in events if "Special measures period" in e["summary"]]
    assert [e["on"] for e in limit] == [dt.date(2027, 7, 20)]
    # the API and the case file say when it entered
    assert CaseOut.of(case).special_measures_since == dt.date(2026, 7, 20)
    assert "Special measures: yes, since 2026-07-20" in _case_text(case)


async def test_a_case_in_special_measures_still_inadequate_in_a_key_question_stays(home):
    """The defect: Requires improvement overall with Well-led still Inadequate moved the
    case to sustaining as if the rating had recovered."""
    me = home["manager"]
    await _record(
        home,
        "2026-02-01",
        _form("2026-01-15", "Inadequate", safe="Inadequate", well_led="Inadequate"),
    )
    with clock.frozen(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)):
        case = await cases.open_case(me, home["service"])
    assert case["special_measures"] and case["special_measures_since"] == dt.date(2026, 1, 15)
    note = await _record(
        home, "2026-08-01", _form("2026-07-20", "Requires improvement", well_led="Inadequate")
    )
    case = await cases.get_case(me, case["id"])
    assert case["stage"] == "assessing" and case["special_measures"]
    assert case["sustain_until"] is None
    assert "cancel or restrict" in note
    events = await history.feed(me, case["id"], entity="case")
    assert any("cancel or restrict" in e["summary"] for e in events)


async def test_a_case_leaves_special_measures_and_sustains_when_nothing_is_inadequate(home):
    me = home["manager"]
    await _record(home, "2026-02-01", _form("2026-01-15", "Inadequate", safe="Inadequate"))
    with clock.frozen(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)):
        case = await cases.open_case(me, home["service"])
    note = await _record(
        home, "2026-08-01", _form("2026-07-20", "Requires improvement", safe="Requires improvement")
    )
    case = await cases.get_case(me, case["id"])
    assert case["stage"] == "sustaining" and not case["special_measures"]
    assert case["special_measures_since"] is None
    assert "leaves special measures" in note
    # a fall back in one key question while sustaining: back to delivering, not yet in
    await _record(
        home, "2027-03-01", _form("2027-02-15", "Requires improvement", caring="Inadequate")
    )
    case = await cases.get_case(me, case["id"])
    assert case["stage"] == "delivering" and not case["special_measures"]
