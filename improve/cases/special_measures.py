"""Special measures, decided from a service's ratings history: the one place the rule lives.

The rule, as the domain facts state it (shared/domain.md, "After an Inadequate rating",
adult social care since 2015):

- **In, Inadequate overall**: a service rated Inadequate overall enters special measures
  at once.
- **In, still Inadequate in a key question**: a service Inadequate in a key question but
  not overall is re-inspected (within about 6 months of publication); if any key question
  is still Inadequate at that re-inspection (the next rating), it enters special measures.
  Until then it is not in special measures.
- **Stays, still Inadequate**: in special measures it is re-inspected within about
  6 months; if any key question (or the overall rating) is still Inadequate, it stays in,
  CQC moves to cancel or restrict its registration and inspects again within a further
  ~6 months. The whole period is normally no more than 12 months.
- **Out**: it leaves special measures when a re-inspection rates it Inadequate neither
  overall nor in any key question. It need not reach Good.

"Inadequate" here means Inadequate overall or in any key question. Each rating is one
inspection and the next rating is its re-inspection, however long after it came. A rating
with nothing rated (neither overall nor any key question) says nothing either way and is
passed over.

Pure functions over plain values: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from improve.framework import KEY_QUESTION_TITLES, KEY_QUESTIONS

INADEQUATE = "inadequate"
REINSPECTION_NOTE_MONTHS = 6  # "re-inspected within about 6 months"
LIMIT_MONTHS = 12  # "the whole period is normally no more than 12 months"


@dataclass(frozen=True)
class PublishedRating:
    """One published rating: overall and the five key questions ("" when not rated)."""

    published_on: dt.date
    overall: str = ""
    key_questions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> PublishedRating:
        """From a rating row (safe ... well_led columns) or a dict with key_questions."""
        kqs = row.get("key_questions") or {k: row.get(k) or "" for k in KEY_QUESTIONS}
        return cls(row["published_on"], row.get("overall") or "", dict(kqs))

    @property
    def rated(self) -> bool:
        return bool(self.overall) or any(self.key_questions.values())

    @property
    def inadequate_overall(self) -> bool:
        return self.overall == INADEQUATE

    @property
    def inadequate_key_questions(self) -> tuple[str, ...]:
        return tuple(k for k, v in self.key_questions.items() if v == INADEQUATE)

    @property
    def inadequate(self) -> bool:
        """Inadequate overall or in any key question."""
        return self.inadequate_overall or bool(self.inadequate_key_questions)


class Route(StrEnum):
    """Where the latest rating left the service, and by which rule."""

    NOT_INADEQUATE = "not_inadequate"  # never in, or nothing Inadequate after being watched
    KEY_QUESTION_INADEQUATE = "key_question_inadequate"  # first time: not in yet
    ENTERED_INADEQUATE_OVERALL = "entered_inadequate_overall"
    ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION = "entered_still_inadequate_in_a_key_question"
    STILL_INADEQUATE = "still_inadequate"  # in, and still Inadequate at re-inspection
    LEFT = "left"  # was in; no longer Inadequate overall or in any key question


ENTERED = (Route.ENTERED_INADEQUATE_OVERALL, Route.ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION)
IN = (*ENTERED, Route.STILL_INADEQUATE)


@dataclass(frozen=True)
class SpecialMeasuresStatus:
    route: Route = Route.NOT_INADEQUATE
    since: dt.date | None = None  # publication of the rating that put the service in
    # re-inspections in special measures that found it still Inadequate (0, 1, 2 ...)
    still_inadequate_reinspections: int = 0
    latest: PublishedRating | None = None  # the rating this status is as of

    @property
    def in_special_measures(self) -> bool:
        return self.route in IN

    @property
    def registration_at_risk(self) -> bool:
        """Still Inadequate at a re-inspection in special measures: CQC moves to cancel
        or restrict the registration."""
        return self.route == Route.STILL_INADEQUATE

    @property
    def note(self) -> str:
        """What the latest rating means for special measures, in words."""
        return _NOTES[self.route](self)


def _where(rating: PublishedRating | None) -> str:
    """ "overall and in Safe, Well-led" / "in Safe" for a note."""
    if rating is None:
        return ""
    parts = ["overall"] if rating.inadequate_overall else []
    kqs = [KEY_QUESTION_TITLES.get(k, k) for k in rating.inadequate_key_questions]
    if kqs:
        parts.append("in " + ", ".join(kqs))
    return " and ".join(parts)


def _still(status: SpecialMeasuresStatus) -> str:
    where = _where(status.latest)
    if status.still_inadequate_reinspections == 1:
        return (
            f"Still Inadequate {where} at re-inspection in special measures: the service "
            "stays in special measures; CQC moves to cancel or restrict its registration "
            f"and inspects again within about {REINSPECTION_NOTE_MONTHS} months."
        )
    return (
        f"Still Inadequate {where} at a further re-inspection in special measures "
        f"(normally no more than {LIMIT_MONTHS} months in all): CQC moves to cancel or "
        "restrict its registration."
    )


_NOTES = {
    Route.NOT_INADEQUATE: lambda s: "",
    Route.KEY_QUESTION_INADEQUATE: lambda s: (
        f"Inadequate {_where(s.latest)}: CQC re-inspects within about "
        f"{REINSPECTION_NOTE_MONTHS} months; if any key question is still Inadequate then, "
        "the service enters special measures."
    ),
    Route.ENTERED_INADEQUATE_OVERALL: lambda s: (
        "Inadequate overall: the service enters special measures. The provider must tell "
        "the people who use the service."
    ),
    Route.ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION: lambda s: (
        f"Still Inadequate {_where(s.latest)} at the re-inspection after a key question "
        "was rated Inadequate: the service enters special measures. The provider must "
        "tell the people who use the service."
    ),
    Route.STILL_INADEQUATE: _still,
    Route.LEFT: lambda s: (
        "No longer Inadequate overall or in any key question: the service leaves special "
        "measures (it need not reach Good)."
    ),
}


def next_status(before: SpecialMeasuresStatus, rating: PublishedRating) -> SpecialMeasuresStatus:
    """The status after one more published rating (the re-inspection of ``before``'s)."""
    if not rating.rated:
        return before
    if before.in_special_measures:
        if rating.inadequate:
            return SpecialMeasuresStatus(
                Route.STILL_INADEQUATE,
                before.since,
                before.still_inadequate_reinspections + 1,
                rating,
            )
        return SpecialMeasuresStatus(Route.LEFT, None, 0, rating)
    if rating.inadequate_overall:
        return SpecialMeasuresStatus(
            Route.ENTERED_INADEQUATE_OVERALL, rating.published_on, 0, rating
        )
    if rating.inadequate:  # in a key question, not overall
        if before.route == Route.KEY_QUESTION_INADEQUATE:
            return SpecialMeasuresStatus(
                Route.ENTERED_STILL_INADEQUATE_IN_A_KEY_QUESTION, rating.published_on, 0, rating
            )
        return SpecialMeasuresStatus(Route.KEY_QUESTION_INADEQUATE, None, 0, rating)
    return SpecialMeasuresStatus(Route.NOT_INADEQUATE, None, 0, rating)


def special_measures_status(history: Iterable[PublishedRating]) -> SpecialMeasuresStatus:
    """Where a service stands after its ratings, taken in order of publication."""
    status = SpecialMeasuresStatus()
    for rating in sorted(history, key=lambda r: r.published_on):
        status = next_status(status, rating)
    return status
