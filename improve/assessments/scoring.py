"""SAF scoring for a self-assessment: key-question scores, limiters and the overall rating.

Pure functions over plain values (no database, no web), built from the rules in
domain.md ("SAF scoring"):

- each quality statement scores 1 (significant shortfalls) to 4 (exceptional);
- a key question's percentage is its total over the maximum (4 per statement);
- the band is read from that percentage, then CQC's limiters may lower it;
- the overall rating follows CQC's ratings principles for adult social care.

All arithmetic is exact (fractions.Fraction): a float can put 62.5% a hair either side
of a band edge, and Python's round() rounds half to even (62.5 -> 62), which would move
a score that CQC shows as 63% into the wrong band.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Literal

from improve.framework import KEY_QUESTIONS
from improve.services.tables import RATING_LABELS, RatingValue
from improve.words import counted

ROUNDING_RULE = (
    "Percentages are rounded half up to a whole number (68.75% shows as 69%) and the band "
    "is read from that whole number; CQC publishes no rounding rule."
)
LIMITER_RULE = (
    "Limiters: a score in the Good band with any quality statement scored 1 is limited to "
    "Requires improvement; a score in the Outstanding band with any statement scored 1 or 2 "
    "is limited to Good. CQC does not say whether an Outstanding-band score with a statement "
    "at 1 falls further, so the rule is applied as written: it stops at Good."
)
JUDGEMENT_NOTE = (
    "Inspectors may depart from these principles by professional judgement: "
    "this tool projects a rating, it does not decide one."
)

MIN_SCORE = 1
MAX_SCORE = 4
SCORE_MEANINGS = {
    1: "significant shortfalls",
    2: "some shortfalls",
    3: "good standard",
    4: "exceptional standard",
}

# Lowest first. Each band's whole-percent range as CQC publishes it; 25% is the floor
# because every statement scores at least 1 out of 4.
BANDS: tuple[tuple[RatingValue, int, int], ...] = (
    (RatingValue.INADEQUATE, 25, 38),
    (RatingValue.REQUIRES_IMPROVEMENT, 39, 62),
    (RatingValue.GOOD, 63, 87),
    (RatingValue.OUTSTANDING, 88, 100),
)
ORDER: tuple[RatingValue, ...] = tuple(band for band, _, _ in BANDS)
RANK: Mapping[RatingValue, int] = MappingProxyType({r: i for i, r in enumerate(ORDER)})

Position = Literal["low", "middle", "high"]

_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight")


@dataclass(frozen=True)
class KeyQuestionResult:
    """One key question's score, band, rating after limiters, and what would move it."""

    scores: tuple[int, ...]
    total: int
    maximum: int
    fraction: Fraction
    percentage: Fraction
    shown_percent: int
    band: RatingValue
    rating: RatingValue
    limiter: str | None
    position: Position
    position_text: str
    to_move_up: str | None
    to_move_down: str | None


@dataclass(frozen=True)
class OverallResult:
    """The projected overall rating and the ratings principle that decided it."""

    rating: RatingValue | None
    principle: str
    assessed: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Assessment:
    """Per key question results (KEY_QUESTIONS order; None where nothing was scored)."""

    key_questions: Mapping[str, KeyQuestionResult | None]
    overall: OverallResult


# --- small helpers -------------------------------------------------------------------


def label(rating: RatingValue) -> str:
    return RATING_LABELS[rating]


def _words(count: int) -> str:
    return _NUMBER_WORDS[count] if count < len(_NUMBER_WORDS) else str(count)


def _validate(scores: Sequence[int]) -> tuple[int, ...]:
    if not scores:
        raise ValueError("a key question needs at least one scored quality statement")
    for score in scores:
        # bool is an int in Python; True must not pass as a score of 1.
        if isinstance(score, bool) or not isinstance(score, int):
            raise ValueError(f"a score must be a whole number 1 to 4, not {score!r}")
        if not MIN_SCORE <= score <= MAX_SCORE:
            raise ValueError(f"a score must be 1 to 4, not {score}")
    return tuple(scores)


# --- the score and its band ----------------------------------------------------------


def shown_percent(total: int, maximum: int) -> int:
    """The whole percent CQC would show: exact percentage rounded half up (68.75 -> 69)."""
    return math.floor(Fraction(100 * total, maximum) + Fraction(1, 2))


def band_for_percent(percent: int) -> RatingValue:
    for band, _, top in BANDS:
        if percent <= top:
            return band
    return RatingValue.OUTSTANDING


def _band_of(total: int, maximum: int) -> RatingValue:
    return band_for_percent(shown_percent(total, maximum))


def _limited(band: RatingValue, has_one: bool, has_one_or_two: bool) -> RatingValue:
    """CQC's limiters; nothing limits the two lower bands."""
    if band is RatingValue.GOOD and has_one:
        return RatingValue.REQUIRES_IMPROVEMENT
    if band is RatingValue.OUTSTANDING and has_one_or_two:
        # As written: even a statement at 1 stops an Outstanding-band score at Good.
        return RatingValue.GOOD
    return band


def _rate(scores: Sequence[int]) -> RatingValue:
    band = _band_of(sum(scores), MAX_SCORE * len(scores))
    return _limited(band, min(scores) == 1, min(scores) <= 2)


def _limiter_text(band: RatingValue, rating: RatingValue, scores: Sequence[int]) -> str | None:
    if band is rating:
        return None
    counts = Counter(scores)
    low = [s for s in (1, 2) if counts[s] and (band is RatingValue.OUTSTANDING or s == 1)]
    parts = [
        f"{counted(counts[s], 'quality statement')} scored {s} ({SCORE_MEANINGS[s]})" for s in low
    ]
    text = (
        f"Limited to {label(rating)}: the score is in the {label(band)} band but "
        f"{' and '.join(parts)}."
    )
    if band is RatingValue.OUTSTANDING and counts[1]:
        text += " CQC does not say whether a 1 takes it lower; the rule is applied as written."
    return text


# --- where the score sits in its band ------------------------------------------------


def _position(percent: int, band: RatingValue) -> Position:
    """Which third of the band's whole-percent range the shown percent falls in."""
    _, bottom, top = BANDS[RANK[band]]
    third = (percent - bottom) * 3 // (top - bottom + 1)
    return ("low", "middle", "high")[third]


def _position_text(band: RatingValue, rating: RatingValue, position: Position) -> str:
    if rating is not band:
        return f"{label(rating)} (limited; the score is in the {label(band)} band)"
    rank = RANK[band]
    if position == "high" and rank < len(ORDER) - 1:
        return f"{label(band)}, nearing {label(ORDER[rank + 1])}"
    if position == "low" and rank > 0:
        return f"{label(band)}, nearing {label(ORDER[rank - 1])}"
    if position == "middle":
        return f"{label(band)}, in the middle of the band"
    # The outer thirds of the top and bottom bands have no neighbour to near.
    return f"{label(band)}, {position} in the band"


# --- what would move it --------------------------------------------------------------


def _raise_to(scores: Sequence[int], target: RatingValue) -> list[int]:
    """The fewest points that lift the rating to `target` or better.

    Raise the lowest statement one point at a time. The rating depends only on the total
    and on the lowest score, and rises with both; for a given number of points this keeps
    the total the same as any other choice and the lowest score as high as it can be, so
    it reaches the target with the fewest points. All 4s is Outstanding, so it always can.
    """
    raised = list(scores)
    while RANK[_rate(raised)] < RANK[target]:
        lowest = raised.index(min(raised))
        raised[lowest] += 1
    return raised


def _changes_text(before: Sequence[int], after: Sequence[int]) -> str:
    moves = Counter((b, a) for b, a in zip(before, after, strict=True) if a != b)
    parts = []
    # Name the noun once: "two statements from 1 to 2 and one from 2 to 3".
    for i, ((before_score, after_score), n) in enumerate(sorted(moves.items())):
        noun = "" if i else (" statement" if n == 1 else " statements")
        parts.append(f"{_words(n)}{noun} from {before_score} to {after_score}")
    return " and ".join(parts)


def _blockers_text(scores: Sequence[int], target: RatingValue) -> str:
    """What a limiter needs raised before `target` can be reached, or ""."""
    if target is RatingValue.GOOD and 1 in scores:
        count = scores.count(1)
        return (
            f"The {counted(count, 'quality statement')} scored 1 must be raised first: "
            "while any statement scores 1, a Good-band score is limited to "
            "Requires improvement. "
        )
    if target is RatingValue.OUTSTANDING and min(scores) <= 2:
        low = sorted({s for s in scores if s <= 2})
        count = sum(1 for s in scores if s <= 2)
        return (
            f"The {counted(count, 'quality statement')} scored {' or '.join(map(str, low))} "
            "must be raised to 3 or more first: while any statement scores 1 or 2, an "
            "Outstanding-band score is limited to Good. "
        )
    return ""


def _move_up_text(scores: Sequence[int], rating: RatingValue) -> str | None:
    if rating is RatingValue.OUTSTANDING:
        return None
    target = ORDER[RANK[rating] + 1]
    sorted_scores = sorted(scores)
    raised = _raise_to(sorted_scores, target)
    points = sum(raised) - sum(sorted_scores)
    return (
        f"{_blockers_text(scores, target)}{counted(points, 'more point')} "
        f"(for example {_changes_text(sorted_scores, raised)}) would reach {label(target)}."
    )


def _move_down_text(scores: Sequence[int], band: RatingValue, rating: RatingValue) -> str | None:
    """Points lost, with the statements at 1 or 2 still where they are, that drop the rating.

    A statement newly falling to 1 (or 2) is a quicker way down through a limiter; that is
    said separately rather than folded into the count.
    """
    if rating is RatingValue.INADEQUATE:
        return None
    total, maximum = sum(scores), MAX_SCORE * len(scores)
    has_one, has_one_or_two = min(scores) == 1, min(scores) <= 2
    # All 1s is 25%, Inadequate, so some loss up to total - count always drops it.
    for lost in range(1, total - len(scores) + 1):
        after = _limited(_band_of(total - lost, maximum), has_one, has_one_or_two)
        if RANK[after] < RANK[rating]:
            break
    text = f"Losing {counted(lost, 'point')} would drop it to {label(after)}."
    if band is RatingValue.GOOD and rating is RatingValue.GOOD:
        text += (
            " Any single quality statement falling to 1 would also limit it to "
            "Requires improvement at best."
        )
    elif rating is RatingValue.OUTSTANDING:
        text += " Any single quality statement falling to 2 or 1 would also limit it to Good."
    return text


# --- key question --------------------------------------------------------------------


def key_question_result(scores: Sequence[int]) -> KeyQuestionResult:
    """Score one key question from its quality statements' scores (each 1 to 4)."""
    scores = _validate(scores)
    total, maximum = sum(scores), MAX_SCORE * len(scores)
    fraction = Fraction(total, maximum)
    percent = shown_percent(total, maximum)
    band = band_for_percent(percent)
    rating = _rate(scores)
    position = _position(percent, band)
    return KeyQuestionResult(
        scores=scores,
        total=total,
        maximum=maximum,
        fraction=fraction,
        percentage=100 * fraction,
        shown_percent=percent,
        band=band,
        rating=rating,
        limiter=_limiter_text(band, rating, scores),
        position=position,
        position_text=_position_text(band, rating, position),
        to_move_up=_move_up_text(scores, rating),
        to_move_down=_move_down_text(scores, band, rating),
    )


# --- overall -------------------------------------------------------------------------


def _coerce(ratings: Mapping[str, RatingValue | str | None]) -> list[RatingValue]:
    given = []
    for key_question, value in ratings.items():
        if key_question not in KEY_QUESTIONS:
            raise ValueError(f"unknown key question {key_question!r}")
        if value is None or value == "":  # "" is how a Rating row says "not rated"
            continue
        given.append(RatingValue(value))
    return given


def _principle(given: Sequence[RatingValue]) -> tuple[RatingValue, str, list[str]]:
    """CQC's ratings principles 2-5, in the order that decides (key questions weigh equally)."""
    counts = Counter(given)
    inadequate = counts[RatingValue.INADEQUATE]
    ri = counts[RatingValue.REQUIRES_IMPROVEMENT]
    outstanding = counts[RatingValue.OUTSTANDING]
    if inadequate >= 2:
        return (
            RatingValue.INADEQUATE,
            "Two or more key questions are Inadequate, so overall is normally Inadequate.",
            [],
        )
    if inadequate == 1:
        return (
            RatingValue.REQUIRES_IMPROVEMENT,
            "One key question is Inadequate, so overall is normally Requires improvement.",
            [],
        )
    if ri >= 2:
        return (
            RatingValue.REQUIRES_IMPROVEMENT,
            "Two or more key questions are Requires improvement, so overall is normally "
            "Requires improvement.",
            [],
        )
    if outstanding >= 2 and ri == 0:
        return (
            RatingValue.OUTSTANDING,
            "At least two key questions are Outstanding and the rest Good, so overall is "
            "normally Outstanding.",
            [],
        )
    notes = []
    if outstanding:
        notes.append(
            "Not Outstanding overall: that needs at least two key questions Outstanding and "
            f"all the rest Good ({counted(outstanding, 'is', 'are')} Outstanding"
            f"{', 1 is Requires improvement' if ri else ''})."
        )
    return (
        RatingValue.GOOD,
        "No key question is Inadequate and at most one is Requires improvement, so overall "
        "is normally Good.",
        notes,
    )


def overall_rating(ratings: Mapping[str, RatingValue | None], *, breach: bool) -> OverallResult:
    """Project the overall rating from the key questions' ratings (any of the five)."""
    given = _coerce(ratings)
    if not given:
        return OverallResult(
            rating=None,
            principle="No key question has a rating, so there is nothing to project from.",
            assessed=0,
            notes=(JUDGEMENT_NOTE,),
        )
    rating, principle, notes = _principle(given)
    if breach:
        if RANK[rating] > RANK[RatingValue.REQUIRES_IMPROVEMENT]:
            principle = (
                "There is a breach of regulations, so overall cannot be better than "
                f"Requires improvement (the key questions alone would give {label(rating)})."
            )
            rating = RatingValue.REQUIRES_IMPROVEMENT
        else:
            notes.append(
                "There is a breach of regulations, which caps overall at Requires "
                "improvement; the key questions already give no better than that."
            )
    if len(given) < len(KEY_QUESTIONS):
        notes.append(f"Projected from {len(given)} of {len(KEY_QUESTIONS)} key questions.")
    notes.append(JUDGEMENT_NOTE)
    return OverallResult(
        rating=rating, principle=principle, assessed=len(given), notes=tuple(notes)
    )


# --- a whole self-assessment ---------------------------------------------------------


def assess(
    scores_by_statement: Mapping[str, int],
    statement_key_question: Mapping[str, str],
    *,
    breach: bool,
) -> Assessment:
    """Score every key question from its statements' scores, then project the overall."""
    grouped: dict[str, list[int]] = {kq: [] for kq in KEY_QUESTIONS}
    # Sorted by statement id so the same answers always give the same result and text.
    for statement in sorted(scores_by_statement):
        key_question = statement_key_question.get(statement)
        if key_question is None:
            raise ValueError(f"quality statement {statement!r} has no key question")
        if key_question not in grouped:
            raise ValueError(f"quality statement {statement!r}: unknown key question")
        grouped[key_question].append(scores_by_statement[statement])
    results = {kq: key_question_result(s) if s else None for kq, s in grouped.items()}
    overall = overall_rating(
        {kq: r.rating if r else None for kq, r in results.items()}, breach=breach
    )
    return Assessment(key_questions=MappingProxyType(results), overall=overall)
