"""SAF scoring, built case by case from the rules in domain.md ("SAF scoring")."""

from __future__ import annotations

import itertools
import re
from fractions import Fraction

import pytest

from improve.assessments import scoring
from improve.assessments.scoring import (
    JUDGEMENT_NOTE,
    LIMITER_RULE,
    ROUNDING_RULE,
    assess,
    key_question_result,
    overall_rating,
)
from improve.framework import KEY_QUESTIONS
from improve.services.tables import RatingValue

I = RatingValue.INADEQUATE  # noqa: E741 - the four ratings read best as letters here
RI = RatingValue.REQUIRES_IMPROVEMENT
G = RatingValue.GOOD
O = RatingValue.OUTSTANDING  # noqa: E741
RANK = {I: 0, RI: 1, G: 2, O: 3}


def spread(count: int, total: int) -> list[int]:
    """`count` scores adding up to `total`, as even as possible (so as few 1s and 2s)."""
    base, extra = divmod(total, count)
    return [base + 1] * extra + [base] * (count - extra)


def every_score_set(max_count: int = 8):
    """Every multiset of 1..max_count statement scores: order never matters."""
    for count in range(1, max_count + 1):
        yield from itertools.combinations_with_replacement((1, 2, 3, 4), count)


def band_by_exact_fraction(fraction: Fraction) -> RatingValue:
    """The domain's wording: above 87% Outstanding, above 62% Good, above 38% RI."""
    if fraction > Fraction(87, 100):
        return O
    if fraction > Fraction(62, 100):
        return G
    if fraction > Fraction(38, 100):
        return RI
    return I


def rating_by_rule(scores) -> RatingValue:
    """The limiters exactly as domain.md states them."""
    band = band_by_exact_fraction(Fraction(sum(scores), 4 * len(scores)))
    if band is G and 1 in scores:
        return RI
    if band is O and (1 in scores or 2 in scores):
        return G
    return band


# --- percentages and bands -----------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "total", "shown", "band"),
    [
        (8, 8, 25, I),  # all 1s: the lowest possible
        (8, 12, 38, I),  # 37.5% shows as 38: still Inadequate
        (8, 13, 41, RI),  # 40.625%
        (8, 16, 50, RI),
        (8, 19, 59, RI),  # 59.375%
        (8, 20, 63, G),  # 62.5% shows as 63: Good
        (8, 27, 84, G),  # 84.375%
        (8, 28, 88, O),  # 87.5% shows as 88: Outstanding
        (8, 32, 100, O),  # all 4s
        (6, 15, 63, G),  # 62.5%
        (6, 21, 88, O),  # 87.5%
        (6, 9, 38, I),  # 37.5%
        (4, 11, 69, G),  # 68.75% shows as 69, as in CQC's worked example
        (2, 3, 38, I),
        (2, 5, 63, G),
        (2, 7, 88, O),
        (1, 1, 25, I),
        (1, 2, 50, RI),
        (1, 3, 75, G),
        (1, 4, 100, O),
    ],
)
def test_band_edges(count, total, shown, band):
    result = key_question_result(spread(count, total))
    assert result.total == total
    assert result.maximum == 4 * count
    assert result.fraction == Fraction(total, 4 * count)
    assert result.percentage == Fraction(100 * total, 4 * count)
    assert result.shown_percent == shown
    assert result.band is band


def test_percentages_are_exact_and_rounded_half_up_not_to_even():
    result = key_question_result([2, 3, 3, 3])
    assert result.percentage == Fraction(275, 4)  # 68.75 exactly
    assert result.shown_percent == 69
    assert isinstance(result.shown_percent, int)
    # Python's round() goes half to even and would put 62.5% in the wrong band.
    assert round(62.5) == 62
    assert key_question_result([2, 3, 3, 2, 3, 2]).shown_percent == 63


def test_band_from_shown_percent_equals_exact_comparison_for_every_reachable_score():
    """With up to 8 statements, rounding half up and "above 62% / above 87%" agree."""
    seen_totals = set()
    for scores in every_score_set(8):
        result = key_question_result(scores)
        assert result.band is band_by_exact_fraction(result.fraction), scores
        seen_totals.add((len(scores), sum(scores)))
    # Every possible total of every statement count was covered.
    assert seen_totals == {(n, t) for n in range(1, 9) for t in range(n, 4 * n + 1)}


def test_rating_follows_the_limiter_rule_for_every_reachable_score():
    for scores in every_score_set(8):
        result = key_question_result(scores)
        assert result.rating is rating_by_rule(scores), scores
        assert (result.limiter is None) == (result.rating is result.band), scores


def test_rounding_rule_is_stated():
    assert "half up" in ROUNDING_RULE
    assert "68.75% shows as 69%" in ROUNDING_RULE
    assert "CQC publishes no rounding rule" in ROUNDING_RULE


# --- limiters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "band", "rating"),
    [
        ([1, 3, 3, 3, 3, 3, 3, 3], G, RI),  # Good band with a 1
        ([4, 4, 4, 4, 4, 4, 4, 2], O, G),  # Outstanding band with a 2
        ([1, 4, 4, 4, 4, 4, 4, 3], O, G),  # Outstanding band with a 1: as written, Good
        ([1, 2, 2, 3], RI, RI),  # RI band with a 1: no limiter
        ([1, 1, 1, 2], I, I),  # Inadequate band: no limiter
        ([2, 3, 3, 3, 3, 3, 3, 3], G, G),  # Good band with a 2: no limiter
        ([3, 3, 3, 3, 4, 4, 4, 4], O, O),  # Outstanding band, nothing below 3
    ],
)
def test_limiters(scores, band, rating):
    result = key_question_result(scores)
    assert (result.band, result.rating) == (band, rating)
    assert (result.limiter is not None) == (band is not rating)


def test_limiter_sentences():
    good_band = key_question_result([1, 3, 3, 3, 3, 3, 3, 3])
    assert good_band.limiter == (
        "Limited to Requires improvement: the score is in the Good band but "
        "1 quality statement scored 1 (significant shortfalls)."
    )
    with_twos = key_question_result([4, 4, 4, 4, 4, 4, 2, 2, 4, 4, 4, 4])
    assert with_twos.limiter == (
        "Limited to Good: the score is in the Outstanding band but "
        "2 quality statements scored 2 (some shortfalls)."
    )
    with_a_one = key_question_result([1, 4, 4, 4, 4, 4, 4, 3])
    assert with_a_one.limiter.startswith(
        "Limited to Good: the score is in the Outstanding band but 1 quality statement scored 1"
    )
    assert "as written" in with_a_one.limiter
    assert "as written" in LIMITER_RULE and "Good" in LIMITER_RULE


# --- position in the band ------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "total", "position", "text"),
    [
        (8, 8, "low", "Inadequate, low in the band"),  # 25%
        (8, 12, "high", "Inadequate, nearing Requires improvement"),  # 38%
        (8, 13, "low", "Requires improvement, nearing Inadequate"),  # 41%
        (8, 16, "middle", "Requires improvement, in the middle of the band"),  # 50%
        (8, 19, "high", "Requires improvement, nearing Good"),  # 59%
        (8, 20, "low", "Good, nearing Requires improvement"),  # 63%
        (8, 24, "middle", "Good, in the middle of the band"),  # 75%
        (8, 27, "high", "Good, nearing Outstanding"),  # 84%
        (8, 28, "low", "Outstanding, nearing Good"),  # 88%
        (8, 30, "middle", "Outstanding, in the middle of the band"),  # 94%
        (8, 32, "high", "Outstanding, high in the band"),  # 100%
    ],
)
def test_position_in_band(count, total, position, text):
    result = key_question_result(spread(count, total))
    assert result.rating is result.band  # even spreads avoid the limiters
    assert (result.position, result.position_text) == (position, text)


def test_positions_split_each_band_in_thirds_from_bottom_to_top():
    for band, bottom, top in scoring.BANDS:
        positions = [scoring._position(p, band) for p in range(bottom, top + 1)]
        assert positions[0] == "low" and positions[-1] == "high"
        assert positions == sorted(positions, key=["low", "middle", "high"].index)
        sizes = [positions.count(p) for p in ("low", "middle", "high")]
        assert max(sizes) - min(sizes) <= 1


def test_position_text_states_rating_and_band_when_limited():
    assert key_question_result([1, 3, 3, 3, 3, 3, 3, 3]).position_text == (
        "Requires improvement (limited; the score is in the Good band)"
    )
    assert key_question_result([4, 4, 4, 4, 4, 4, 4, 2]).position_text == (
        "Good (limited; the score is in the Outstanding band)"
    )


# --- what would move it --------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "text"),
    [
        (
            spread(8, 19),
            "1 more point (for example one statement from 2 to 3) would reach Good.",
        ),
        (
            spread(8, 18),
            "2 more points (for example two statements from 2 to 3) would reach Good.",
        ),
        (
            [1] * 8,
            "5 more points (for example five statements from 1 to 2) "
            "would reach Requires improvement.",
        ),
        (
            [3] * 8,
            "4 more points (for example four statements from 3 to 4) would reach Outstanding.",
        ),
    ],
)
def test_to_move_up(scores, text):
    assert key_question_result(scores).to_move_up == text


def test_to_move_up_says_limited_statements_must_be_raised_first():
    good_band = key_question_result([1, 3, 3, 3, 3, 3, 3, 3]).to_move_up
    assert good_band.startswith("The 1 quality statement scored 1 must be raised first")
    assert good_band.endswith(
        "1 more point (for example one statement from 1 to 2) would reach Good."
    )
    outstanding_band = key_question_result([4, 4, 4, 4, 4, 4, 4, 2]).to_move_up
    assert outstanding_band.startswith(
        "The 1 quality statement scored 2 must be raised to 3 or more first"
    )
    assert outstanding_band.endswith("would reach Outstanding.")
    as_written = key_question_result([1, 4, 4, 4, 4, 4, 4, 3]).to_move_up
    assert "2 more points (for example one statement from 1 to 3)" in as_written


def test_nothing_above_outstanding():
    assert key_question_result([4, 4, 4]).to_move_up is None


def test_to_move_up_gives_the_fewest_points_that_reach_the_next_rating():
    """Brute force over every raise of every score set of up to 5 statements."""
    for scores in every_score_set(5):
        result = key_question_result(scores)
        if result.rating is O:
            continue
        target = RANK[result.rating] + 1
        stated = int(re.search(r"(\d+) more points?", result.to_move_up).group(1))
        fewest = min(
            sum(raised) - sum(scores)
            for raised in itertools.product(*(range(s, 5) for s in scores))
            if RANK[rating_by_rule(raised)] >= target
        )
        assert stated == fewest, scores


@pytest.mark.parametrize(
    ("scores", "text"),
    [
        (
            spread(8, 20),  # 63%, no 1s
            "Losing 1 point would drop it to Requires improvement. Any single quality "
            "statement falling to 1 would also limit it to Requires improvement at best.",
        ),
        (spread(8, 13), "Losing 1 point would drop it to Inadequate."),  # 41%
        (spread(8, 19), "Losing 7 points would drop it to Inadequate."),  # 59% -> 38%
        (
            [4] * 8,
            "Losing 5 points would drop it to Good. Any single quality statement falling "
            "to 2 or 1 would also limit it to Good.",
        ),
        # Good only through the limiter: one point lost puts it in the Good band with a 1.
        ([1, 4, 4, 4, 4, 4, 4, 3], "Losing 1 point would drop it to Requires improvement."),
        # Limited to RI in the Good band: falls to Inadequate only once the score does.
        ([1, 3, 3, 3, 3, 3, 3, 3], "Losing 10 points would drop it to Inadequate."),
    ],
)
def test_to_move_down(scores, text):
    assert key_question_result(scores).to_move_down == text


def test_nothing_below_inadequate():
    assert key_question_result([1, 1, 2]).to_move_down is None


# --- invalid input -------------------------------------------------------------------


@pytest.mark.parametrize("scores", [[], [0], [5], [3, -1], [True], [2.0], ["3"]])
def test_invalid_scores_raise(scores):
    with pytest.raises(ValueError):
        key_question_result(scores)


# --- overall rating ------------------------------------------------------------------


def five(*ratings):
    return dict(zip(KEY_QUESTIONS, ratings, strict=True))


@pytest.mark.parametrize(
    ("ratings", "breach", "overall", "principle"),
    [
        (five(I, I, G, G, G), False, I, "Two or more key questions are Inadequate"),
        (five(I, G, G, G, G), False, RI, "One key question is Inadequate"),
        (five(I, O, O, O, O), False, RI, "One key question is Inadequate"),
        (five(RI, RI, G, G, G), False, RI, "Two or more key questions are Requires improvement"),
        (five(RI, G, G, G, G), False, G, "at most one is Requires improvement"),
        (five(O, O, G, G, G), False, O, "At least two key questions are Outstanding"),
        (five(O, O, O, O, O), False, O, "At least two key questions are Outstanding"),
        (five(O, O, G, G, RI), False, G, "at most one is Requires improvement"),
        (five(O, G, G, G, G), False, G, "at most one is Requires improvement"),
        (five(O, O, O, O, O), True, RI, "breach of regulations"),
        (five(G, G, G, G, G), True, RI, "breach of regulations"),
        (five(I, I, G, G, G), True, I, "Two or more key questions are Inadequate"),
        (five(RI, RI, G, G, G), True, RI, "Two or more key questions are Requires improvement"),
    ],
)
def test_overall_principles(ratings, breach, overall, principle):
    result = overall_rating(ratings, breach=breach)
    assert result.rating is overall
    assert principle in result.principle
    assert result.assessed == 5
    assert JUDGEMENT_NOTE in result.notes
    assert not any(note.startswith("Projected from") for note in result.notes)


def test_breach_cap_names_what_the_key_questions_alone_would_give():
    result = overall_rating(five(G, G, G, G, G), breach=True)
    assert result.principle == (
        "There is a breach of regulations, so overall cannot be better than "
        "Requires improvement (the key questions alone would give Good)."
    )
    already = overall_rating(five(I, I, G, G, G), breach=True)
    assert any("breach of regulations" in note for note in already.notes)


def test_one_requires_improvement_blocks_outstanding_and_says_why():
    result = overall_rating(five(O, O, G, G, RI), breach=False)
    assert any(note.startswith("Not Outstanding overall") for note in result.notes)


def test_partial_assessment_is_projected_from_what_was_rated():
    result = overall_rating(
        {"safe": G, "effective": RI, "caring": G, "responsive": None}, breach=False
    )
    assert result.rating is G
    assert result.assessed == 3
    assert "Projected from 3 of 5 key questions." in result.notes
    assert JUDGEMENT_NOTE in result.notes


def test_nothing_rated():
    result = overall_rating({"safe": None, "caring": ""}, breach=True)
    assert result.rating is None
    assert result.assessed == 0
    assert "nothing to project" in result.principle
    assert result.notes == (JUDGEMENT_NOTE,)


def test_unknown_key_question_raises():
    with pytest.raises(ValueError):
        overall_rating({"kind": G}, breach=False)


# --- a whole self-assessment ---------------------------------------------------------


def test_assess_groups_statements_by_key_question():
    scores = {
        "safe.medicines": 1,
        "safe.staffing": 3,
        "safe.safeguarding": 3,
        "safe.learning": 3,
        "caring.kindness": 4,
        "caring.choices": 4,
        "well_led.governance": 2,
    }
    key_question = {statement: statement.split(".")[0] for statement in scores}
    result = assess(scores, key_question, breach=False)
    assert list(result.key_questions) == list(KEY_QUESTIONS)
    safe = result.key_questions["safe"]
    assert (safe.total, safe.maximum, safe.band, safe.rating) == (10, 16, G, RI)
    assert result.key_questions["caring"].rating is O
    assert result.key_questions["well_led"].rating is RI
    assert result.key_questions["effective"] is None
    assert result.key_questions["responsive"] is None
    assert result.overall.rating is RI  # two Requires improvement
    assert result.overall.assessed == 3
    assert "Projected from 3 of 5 key questions." in result.overall.notes
    assert assess(scores, key_question, breach=True).overall.rating is RI


def test_assess_with_breach_caps_overall():
    scores = {f"{kq}.a": 4 for kq in KEY_QUESTIONS}
    key_question = {f"{kq}.a": kq for kq in KEY_QUESTIONS}
    assert assess(scores, key_question, breach=False).overall.rating is O
    assert assess(scores, key_question, breach=True).overall.rating is RI


def test_assess_rejects_unknown_statements_and_bad_scores():
    with pytest.raises(ValueError):
        assess({"safe.x": 3}, {}, breach=False)
    with pytest.raises(ValueError):
        assess({"safe.x": 3}, {"safe.x": "kind"}, breach=False)
    with pytest.raises(ValueError):
        assess({"safe.x": 5}, {"safe.x": "safe"}, breach=False)
