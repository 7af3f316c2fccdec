"""A case's stages and the rules for moving between them: the one place they live.

assessing -> plan drafted -> plan agreed -> delivering -> awaiting re-inspection
          -> sustaining (no longer Inadequate anywhere; watching continues) -> closed

Every check returns the reasons a move is refused, in words a manager can act on.
Pure functions over plain values: no database, no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from improve.cases.special_measures import Route, SpecialMeasuresStatus
from improve.framework import KEY_QUESTIONS


class Stage(StrEnum):
    ASSESSING = "assessing"
    PLAN_DRAFTED = "plan_drafted"
    PLAN_AGREED = "plan_agreed"
    DELIVERING = "delivering"
    AWAITING_REINSPECTION = "awaiting_reinspection"
    SUSTAINING = "sustaining"
    CLOSED = "closed"


STAGE_LABELS = {
    Stage.ASSESSING: "Assessing",
    Stage.PLAN_DRAFTED: "Plan drafted",
    Stage.PLAN_AGREED: "Plan agreed",
    Stage.DELIVERING: "Delivering",
    Stage.AWAITING_REINSPECTION: "Awaiting re-inspection",
    Stage.SUSTAINING: "Sustaining",
    Stage.CLOSED: "Closed",
}

STAGE_HELP = {
    Stage.ASSESSING: "Record what the inspection found: every breach as a finding.",
    Stage.PLAN_DRAFTED: "Build the action plan so that every finding has an action.",
    Stage.PLAN_AGREED: "The plan is agreed with the provider; start delivering it.",
    Stage.DELIVERING: "Deliver and verify actions; hold progress reviews.",
    Stage.AWAITING_REINSPECTION: "The work is done; CQC is due to inspect again.",
    Stage.SUSTAINING: "No longer Inadequate overall or in any key question; keep watching "
    "so improvement lasts.",
    Stage.CLOSED: "The journey is over.",
}


class Outcome(StrEnum):
    IMPROVED = "improved"
    STILL_INADEQUATE = "still_inadequate"
    REGISTRATION_CANCELLED = "registration_cancelled"
    SERVICE_CLOSED = "service_closed"


OUTCOME_LABELS = {
    Outcome.IMPROVED: "Improved",
    Outcome.STILL_INADEQUATE: "Still inadequate",
    Outcome.REGISTRATION_CANCELLED: "Registration cancelled",
    Outcome.SERVICE_CLOSED: "Service closed",
}

# Moves people make by hand. Sustaining is reached when a better rating is recorded
# (see after_new_rating); backward moves let a plan be reopened.
MOVES: dict[Stage, tuple[Stage, ...]] = {
    Stage.ASSESSING: (Stage.PLAN_DRAFTED, Stage.CLOSED),
    Stage.PLAN_DRAFTED: (Stage.ASSESSING, Stage.PLAN_AGREED, Stage.CLOSED),
    Stage.PLAN_AGREED: (Stage.PLAN_DRAFTED, Stage.DELIVERING, Stage.CLOSED),
    Stage.DELIVERING: (Stage.PLAN_DRAFTED, Stage.AWAITING_REINSPECTION, Stage.CLOSED),
    Stage.AWAITING_REINSPECTION: (Stage.DELIVERING, Stage.CLOSED),
    Stage.SUSTAINING: (Stage.DELIVERING, Stage.CLOSED),
    Stage.CLOSED: (),
}


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know about a case."""

    stage: Stage
    findings: int = 0
    uncovered_findings: int = 0  # findings with no action in the plan
    actions: int = 0
    open_actions: int = 0  # not yet done or verified
    has_new_rating: bool = False  # a rating published after the case opened
    new_rating_overall: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def check_move(facts: CaseFacts, to: Stage, outcome: str = "") -> Decision:
    """May this case move to ``to``? If not, every reason why."""
    if to not in MOVES[facts.stage]:
        if facts.stage == Stage.CLOSED:
            return Decision(False, ("The case is closed.",))
        allowed = ", ".join(STAGE_LABELS[s] for s in MOVES[facts.stage]) or "nothing"
        return Decision(
            False,
            (
                f"A case cannot go from {STAGE_LABELS[facts.stage]} to {STAGE_LABELS[to]}; "
                f"from here it can go to: {allowed}.",
            ),
        )
    reasons: list[str] = []
    if to == Stage.PLAN_DRAFTED and facts.stage == Stage.ASSESSING and facts.findings == 0:
        reasons.append("Record at least one finding before drafting the plan.")
    if to == Stage.PLAN_AGREED:
        if facts.actions == 0:
            reasons.append("The plan has no actions yet.")
        if facts.uncovered_findings:
            n = facts.uncovered_findings
            reasons.append(
                f"{n} finding{'s have' if n != 1 else ' has'} no action in the plan; "
                "a plan cannot be agreed while a finding is unanswered."
            )
    if to == Stage.CLOSED:
        reasons.extend(_closing_reasons(facts, outcome))
    return Decision(not reasons, tuple(reasons))


def _closing_reasons(facts: CaseFacts, outcome: str) -> list[str]:
    try:
        chosen = Outcome(outcome)
    except ValueError:
        return [
            "Choose an outcome: improved, still inadequate, registration cancelled or "
            "service closed."
        ]
    if chosen in (Outcome.REGISTRATION_CANCELLED, Outcome.SERVICE_CLOSED):
        return []
    if not facts.has_new_rating:
        return ["Record the new CQC rating before closing the case."]
    inadequate = facts.new_rating_overall == "inadequate"
    if chosen == Outcome.IMPROVED and inadequate:
        return ["The new rating is still Inadequate overall: the outcome cannot be 'improved'."]
    if chosen == Outcome.STILL_INADEQUATE and not inadequate:
        return ["The new rating is better than Inadequate: the outcome is 'improved'."]
    return []


@dataclass(frozen=True)
class RatingEffect:
    stage: Stage
    special_measures: bool
    special_measures_since: dt.date | None
    note: str


def after_new_rating(stage: Stage, status: SpecialMeasuresStatus) -> RatingEffect:
    """What a newly published rating does to an open case, given where the service's
    ratings history, that rating last, now leaves it (special_measures.py decides).

    The case moves to sustaining only when the new rating is Inadequate neither overall
    nor in any key question: the service has left special measures (or, never in them,
    is no longer Inadequate anywhere). A service still Inadequate in a key question has
    not recovered, whatever its overall rating: the case stays where it is (it may have
    just entered special measures, or stayed in them). A sustaining case whose rating is
    Inadequate again anywhere goes back to delivering.
    """
    note = status.note
    if status.route in (Route.LEFT, Route.NOT_INADEQUATE):
        if stage == Stage.SUSTAINING:
            return RatingEffect(stage, False, None, note)
        recovered = "The rating recovered: the case moves to sustaining."
        if status.route == Route.NOT_INADEQUATE:
            note = "No longer Inadequate overall or in any key question. " + recovered
        else:
            note = f"{note} {recovered}"
        return RatingEffect(Stage.SUSTAINING, False, None, note)
    if stage == Stage.SUSTAINING:
        stage = Stage.DELIVERING
        note = f"The rating fell back: the case returns to delivering. {note}"
    return RatingEffect(stage, status.in_special_measures, status.since, note)


def opens_case(overall: str, key_questions: dict[str, str]) -> bool:
    """A case opens from a rating Inadequate overall or in any key question."""
    return overall == "inadequate" or "inadequate" in key_questions.values()


def rating_to_open(ratings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The rating a case opens from, among a service's ratings (rows with published_on,
    overall, the key questions and service_type), or None.

    What counts is the latest rating of the location itself and the latest of each
    service type CQC rated on its own (a location offering several is often "Not rated"
    overall): any of them that opens a case (opens_case) is a reason to open one. The
    location's own comes first; then a service type Inadequate overall before one
    Inadequate in a key question only, the newest first, then by name.
    """
    latest: dict[str, dict[str, Any]] = {}
    for r in ratings:
        kind = r.get("service_type") or ""
        if kind not in latest or r["published_on"] > latest[kind]["published_on"]:
            latest[kind] = r
    reasons = [
        r for r in latest.values() if opens_case(r["overall"], {k: r[k] for k in KEY_QUESTIONS})
    ]
    if not reasons:
        return None
    return min(
        reasons,
        key=lambda r: (
            bool(r.get("service_type")),
            r["overall"] != "inadequate",
            -r["published_on"].toordinal(),
            r.get("service_type") or "",
        ),
    )
