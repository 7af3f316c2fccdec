"""Stage rules and deadline computations: pure, tested without HTTP or a database."""

from __future__ import annotations

import datetime as dt

import pytest

from improve.cases import deadlines
from improve.cases.deadlines import WarningNotice, add_months, timeline
from improve.cases.special_measures import PublishedRating, special_measures_status
from improve.cases.stages import CaseFacts, Stage, check_move, opens_case
from improve.cases.stages import after_new_rating as _after_status

KQ_OK = {
    "safe": "good",
    "effective": "good",
    "caring": "good",
    "responsive": "good",
    "well_led": "good",
}


def after_new_rating(stage, special_measures, overall, key_questions):
    """The effect of a rating published after one that left the service in special
    measures (or, when not, rated Good): special measures follow the ratings history."""
    before = PublishedRating(dt.date(2026, 1, 15), "inadequate" if special_measures else "good")
    new = PublishedRating(dt.date(2026, 7, 20), overall, key_questions)
    return _after_status(stage, special_measures_status([before, new]))


def test_a_case_opens_from_inadequate_overall_or_in_any_key_question():
    assert opens_case("inadequate", KQ_OK)
    assert opens_case("requires_improvement", {**KQ_OK, "safe": "inadequate"})
    assert not opens_case("requires_improvement", {**KQ_OK, "safe": "requires_improvement"})


def test_drafting_a_plan_needs_a_finding():
    refused = check_move(CaseFacts(Stage.ASSESSING, findings=0), Stage.PLAN_DRAFTED)
    assert not refused.allowed and "at least one finding" in refused.reasons[0]
    assert check_move(CaseFacts(Stage.ASSESSING, findings=2), Stage.PLAN_DRAFTED).allowed


def test_a_plan_cannot_be_agreed_while_a_finding_is_unanswered():
    facts = CaseFacts(Stage.PLAN_DRAFTED, findings=3, uncovered_findings=1, actions=4)
    refused = check_move(facts, Stage.PLAN_AGREED)
    assert not refused.allowed and "1 finding has no action" in refused.reasons[0]
    facts = CaseFacts(Stage.PLAN_DRAFTED, findings=3, uncovered_findings=0, actions=4)
    assert check_move(facts, Stage.PLAN_AGREED).allowed


def test_stages_cannot_be_skipped_and_the_refusal_says_where_it_can_go():
    refused = check_move(CaseFacts(Stage.ASSESSING, findings=1), Stage.DELIVERING)
    assert not refused.allowed
    assert "from here it can go to: Plan drafted, Closed" in refused.reasons[0]
    assert not check_move(CaseFacts(Stage.CLOSED), Stage.ASSESSING).allowed


@pytest.mark.parametrize(
    ("facts", "outcome", "reason"),
    [
        (CaseFacts(Stage.DELIVERING), "", "Choose an outcome"),
        (CaseFacts(Stage.DELIVERING), "improved", "Record the new CQC rating"),
        (
            CaseFacts(Stage.SUSTAINING, has_new_rating=True, new_rating_overall="inadequate"),
            "improved",
            "still Inadequate overall",
        ),
        (
            CaseFacts(Stage.SUSTAINING, has_new_rating=True, new_rating_overall="good"),
            "still_inadequate",
            "better than Inadequate",
        ),
    ],
)
def test_closing_needs_the_new_rating_and_a_matching_outcome(facts, outcome, reason):
    decision = check_move(facts, Stage.CLOSED, outcome)
    assert not decision.allowed and reason in decision.reasons[0]


def test_closing_allowed_cases():
    good = CaseFacts(Stage.SUSTAINING, has_new_rating=True, new_rating_overall="good")
    assert check_move(good, Stage.CLOSED, "improved").allowed
    # a service that closes needs no new rating
    assert check_move(CaseFacts(Stage.DELIVERING), Stage.CLOSED, "service_closed").allowed


def test_new_rating_better_than_inadequate_moves_to_sustaining_and_ends_special_measures():
    effect = after_new_rating(
        Stage.AWAITING_REINSPECTION,
        True,
        "requires_improvement",
        {**KQ_OK, "safe": "requires_improvement"},
    )
    assert effect.stage == Stage.SUSTAINING and effect.special_measures is False
    assert "leaves special measures" in effect.note


def test_special_measures_continue_while_any_key_question_is_inadequate():
    # still Inadequate in Well-led: the service has not left special measures (domain.md:
    # exit needs no key question Inadequate), so its rating has not recovered either
    effect = after_new_rating(
        Stage.AWAITING_REINSPECTION,
        True,
        "requires_improvement",
        {**KQ_OK, "well_led": "inadequate"},
    )
    assert effect.stage == Stage.AWAITING_REINSPECTION and effect.special_measures is True


def test_special_measures_end_without_overall_recovery_is_not_possible_but_kq_can_clear():
    # overall still Inadequate: stays, and CQC may act on registration
    effect = after_new_rating(Stage.AWAITING_REINSPECTION, True, "inadequate", KQ_OK)
    assert effect.stage == Stage.AWAITING_REINSPECTION and effect.special_measures
    assert "cancel or restrict" in effect.note


def test_falling_back_while_sustaining_returns_to_delivering():
    effect = after_new_rating(Stage.SUSTAINING, False, "inadequate", KQ_OK)
    assert effect.stage == Stage.DELIVERING and effect.special_measures


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 8, 31), 6) == dt.date(2028, 2, 29)
    assert add_months(dt.date(2026, 4, 30), 12) == dt.date(2027, 4, 30)


def test_default_dates_from_publication():
    dates = deadlines.default_dates(dt.date(2026, 4, 30), True)
    assert dates["action_plan_due_on"] == dt.date(2026, 5, 28)
    assert dates["expected_reinspection_on"] == dt.date(2026, 10, 30)


def test_timeline_is_ordered_with_countdowns():
    published = dt.date(2026, 4, 30)
    milestones = timeline(
        today=dt.date(2026, 5, 20),
        published_on=published,
        special_measures_entered=True,
        action_plan_due_on=dt.date(2026, 5, 28),
        expected_reinspection_on=dt.date(2026, 10, 30),
        warning_notices=[WarningNotice("12", dt.date(2026, 6, 15))],
        reviews=[("Internal review", dt.date(2026, 5, 27))],
    )
    keys = [m.key for m in milestones]
    assert keys == [
        "published",
        "special_measures",
        "review",
        "action_plan_due",
        "warning_notice",
        "reinspection",
        "special_measures_limit",
    ]
    by_key = {m.key: m for m in milestones}
    assert by_key["action_plan_due"].countdown == "in 8 days"
    assert by_key["published"].countdown == "20 days ago"
    assert by_key["special_measures_limit"].on == dt.date(2027, 4, 30)
    assert deadlines.next_due(milestones).key == "review"
    assert "regulation 12" in by_key["warning_notice"].label


def test_no_special_measures_milestones_when_only_a_key_question_is_inadequate():
    milestones = timeline(
        today=dt.date(2026, 5, 1),
        published_on=dt.date(2026, 4, 30),
        special_measures_entered=False,
        action_plan_due_on=None,
        expected_reinspection_on=None,
        warning_notices=[],
    )
    assert [m.key for m in milestones] == ["published"]
