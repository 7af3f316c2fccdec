"""A history event's before and after in words, for people reading the activity page.

The history stores field names and raw values (an audit log, exact by design; the CSV
download keeps them so). People read "Stage: Plan drafted → Plan agreed", not
"stage: plan_drafted". Every label and vocabulary is the one the app's own forms use.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import framework
from improve.cases.domain import FINDING_STATUSES, SEVERITIES, SOURCES
from improve.cases.stages import OUTCOME_LABELS, STAGE_LABELS
from improve.evidence.domain import TYPES as FILE_TYPES
from improve.plans.domain import ACTION_STATUSES
from improve.plans.playbooks import THEMES
from improve.reviews.domain import AUDIENCES, CONFIDENCE, RAG
from improve.services.tables import RATING_LABELS
from improve.words import counted, file_size

LABELS = {
    # cases
    "stage": "Stage",
    "special_measures": "Special measures",
    "special_measures_since": "In special measures since",
    "action_plan_due_on": "Action plan due",
    "expected_reinspection_on": "Expected re-inspection",
    "sustain_until": "Watch until",
    "outcome": "Outcome",
    "closed_on": "Closed on",
    "internal_review_days": "Days between internal reviews",
    "commissioner_review_days": "Days between commissioner reviews",
    "next_internal_review_on": "Next internal review",
    "next_commissioner_review_on": "Next commissioner review",
    # findings
    "regulation": "Regulation",
    "key_question": "Key question",
    "items": "Quality statements",
    "description": "What was found",
    "source": "Source",
    "severity": "Severity",
    "withdrawn_reason": "Why withdrawn",
    # actions
    "title": "Title",
    "owner": "Owner",
    "due_on": "Due date",
    "done_on": "Done on",
    "done_by": "Done by",
    "verified_on": "Verified on",
    "verified_by": "Verified by",
    "blocked_reason": "Why blocked",
    "dropped_reason": "Why dropped",
    "verification_note": "Evidence it worked",
    "findings": "Answers",
    "note": "Note",
    # reviews
    "held_on": "Held on",
    "audience": "Review",
    "attendees": "Who attended",
    "overall_rag": "Overall",
    "rag": "Themes",
    "confidence": "Confidence in the plan",
    "decisions": "Decisions",
    "notes": "Notes",
    "next_review_on": "Next review",
    # ratings
    "published_on": "Published",
    "overall": "Overall rating",
    "service_type": "Service type",
    **{kq: title for kq, title in framework.KEY_QUESTION_TITLES.items()},
    # services (CQC imports and links)
    "cqc_location_id": "CQC location id",
    "cqc_provider_id": "CQC provider id",
    "cqc_manager_absent_since": "No registered manager (CQC) since",
    "cqc_unpublished_visit_on": "Inspected, report not yet published",
    # monitoring
    "level": "Monitoring level",
    "review_on": "Review level by",
    # evidence
    "kind": "Kind",
    "text": "Description",
    "url": "Link",
    "file_name": "File",
    "content_type": "File type",
    "size": "Size",
    "reason": "Why withdrawn",
    "redacted_events": "Removed from the history",
}

# Kept in the history and its CSV, but nothing a reader needs on the page.
HIDDEN = {"sha256", "stored_name", "note_id", "template", "framework", "version"}

PEOPLE = {"owner", "done_by", "verified_by"}

EMPTY = {"owner": "not assigned", "level": "none set"}

EVIDENCE_KINDS = {"text": "Written note", "link": "Link", "file": "File"}


def _vocabulary(entity: str, field: str) -> dict[str, str] | None:
    if field == "status":
        return ACTION_STATUSES if entity == "action" else FINDING_STATUSES
    if field == "kind" and entity == "evidence":
        return EVIDENCE_KINDS
    if field == "overall" or field in framework.KEY_QUESTIONS:
        return RATING_LABELS
    return {
        "stage": STAGE_LABELS,
        "outcome": OUTCOME_LABELS,
        "severity": SEVERITIES,
        "source": SOURCES,
        "key_question": framework.KEY_QUESTION_TITLES,
        "audience": AUDIENCES,
        "confidence": CONFIDENCE,
        "overall_rag": RAG,
        "content_type": FILE_TYPES,
    }.get(field)


def _date(value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%-d %b %Y")
    except ValueError:
        return str(value)


def _statement(item_id: str) -> str:
    for version in framework.frameworks().values():
        if item_id in version.items:
            return version.items[item_id].title
    return item_id


def word(entity: str, field: str, value: Any, names: dict[int, str] | None = None) -> str:
    """One stored value as a person would write it."""
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY.get(field, "—")
    if field in PEOPLE:
        return (names or {}).get(value, "someone no longer listed")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    vocabulary = _vocabulary(entity, field)
    if vocabulary is not None:
        return vocabulary.get(value, str(value))
    if field.endswith("_on") or field in (
        "sustain_until",
        "special_measures_since",
        "cqc_manager_absent_since",
    ):
        return _date(value)
    if field == "items":
        return "; ".join(_statement(i) for i in value)
    if field == "rag" and isinstance(value, dict):
        return "; ".join(f"{THEMES.get(k, k)}: {RAG.get(v, v)}" for k, v in value.items())
    if field == "findings":
        return counted(len(value), "finding")
    if field == "redacted_events" and isinstance(value, list):
        entries = counted(len(value), "earlier entry", "earlier entries")
        return f"its note, link and file name ({entries})"
    if field == "size" and isinstance(value, int):
        return file_size(value)
    if field == "regulation":
        return f"Regulation {value}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def label(field: str) -> str:
    return LABELS.get(field) or field.replace("_", " ").capitalize()


def in_words(
    entity: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    names: dict[int, str] | None = None,
) -> list[dict[str, str]]:
    """Each field an event recorded: label, was (empty when the thing was new) and now."""
    before, after = before or {}, after or {}
    fields = list(after) + [k for k in before if k not in after]
    return [
        {
            "label": label(f),
            "was": word(entity, f, before.get(f), names) if before else "",
            "now": word(entity, f, after.get(f), names),
        }
        for f in fields
        if f not in HIDDEN
    ]
