"""The values a request field accepts, stated in the OpenAPI document (and so on the
reference page at /schema) from the same constants the domain checks against. Only the
document changes: the domain still checks and names the field when a value is wrong."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from msgspec import Meta

from improve.cases import domain as cases
from improve.cases.stages import Outcome, Stage
from improve.framework import KEY_QUESTIONS
from improve.plans.domain import ACTION_STATUSES
from improve.plans.playbooks import THEMES
from improve.reviews import domain as reviews


def one_of(values: Iterable[str], description: str) -> Meta:
    return Meta(description=description, extra_json_schema={"extra": {"enum": list(values)}})


ActionStatus = Annotated[
    str,
    one_of(
        ACTION_STATUSES,
        "Moves: not_started → in_progress → done → verified. blocked needs a reason; "
        "verified needs evidence and someone other than the owner and the person who did it; "
        "dropped (out of the plan's counts, answering no finding) needs a reason and can go "
        "back to not_started.",
    ),
]
Theme = Annotated[str, one_of(THEMES, "The Driving Improvement theme the action belongs to.")]
Audience = Annotated[str, one_of(reviews.AUDIENCES, "Who held the review.")]
Rag = Annotated[str, one_of(reviews.RAG, "Red, amber or green.")]
Confidence = Annotated[
    str, one_of(reviews.CONFIDENCE, "Confidence in being ready for the re-inspection.")
]
StageName = Annotated[str, one_of(Stage, "The stage to move the case to.")]
ClosingOutcome = Annotated[
    str,
    Meta(
        description="Needed when closing the case: one of "
        + ", ".join(Outcome)
        + ". Empty for any other move."
    ),
]
KeyQuestion = Annotated[str, one_of(KEY_QUESTIONS, "The key question the finding is under.")]
Source = Annotated[str, one_of(cases.SOURCES, "Where the finding came from.")]
Severity = Annotated[str, one_of(cases.SEVERITIES, "How serious the finding is.")]
FindingStatus = Annotated[str, one_of(cases.FINDING_STATUSES, "Where the finding stands.")]
