"""Progress reviews: cadences per audience, recording a review (which schedules the
next one), missed reviews, and new actions that join the plan."""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import clock, history
from improve.access import Viewer
from improve.cases import domain as cases
from improve.cases.tables import Case
from improve.db import write_tx
from improve.errors import Forbidden, Invalid, NotFound, parse_date
from improve.plans.playbooks import THEMES
from improve.reviews.tables import Review

AUDIENCES = {
    "internal": "Internal review (manager and quality lead)",
    "commissioner": "Commissioner review",
}
NEXT_FIELD = {"internal": "next_internal_review_on", "commissioner": "next_commissioner_review_on"}
CADENCE_FIELD = {"internal": "internal_review_days", "commissioner": "commissioner_review_days"}
RAG = {"green": "Green", "amber": "Amber", "red": "Red"}
CONFIDENCE = {"high": "High", "medium": "Medium", "low": "Low"}
DEFAULT_DAYS = {"internal": 14, "commissioner": 30}
MAX_TEXT = 10_000
COLUMNS = (
    Review.id,
    Review.case,
    Review.audience,
    Review.held_on,
    Review.attendees,
    Review.rag,
    Review.overall_rag,
    Review.confidence,
    Review.notes,
    Review.decisions,
    Review.recorded_by_name,
    Review.recorded_at,
)


def first_dates(opened_on: dt.date) -> dict[str, dt.date]:
    """When a new case's first reviews fall due."""
    return {NEXT_FIELD[a]: opened_on + dt.timedelta(days=d) for a, d in DEFAULT_DAYS.items()}


def due_reviews(case: dict[str, Any], today: dt.date) -> list[dict[str, Any]]:
    """The next review of each audience, and whether it was missed (not recorded by the
    day after its date)."""
    out = []
    for audience, field in NEXT_FIELD.items():
        on = case.get(field)
        if on:
            out.append(
                {"audience": audience, "label": AUDIENCES[audience], "on": on, "missed": on < today}
            )
    return out


def _text(data: dict[str, Any], name: str, errors: dict[str, str], required: bool = False):
    value = str(data.get(name) or "").strip()
    if required and not value:
        errors[name] = "is required"
    if len(value) > MAX_TEXT:
        errors[name] = f"must be at most {MAX_TEXT} characters"
    return value


def clean(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    audience = str(data.get("audience") or "")
    if audience not in AUDIENCES:
        errors["audience"] = "choose internal or commissioner"
    try:
        held_on = parse_date(data.get("held_on"), "held_on")
        if held_on is None:
            errors["held_on"] = "is required"
        elif held_on > clock.today():
            errors["held_on"] = "cannot be in the future: record a review once it is held"
    except Invalid as exc:
        errors.update(exc.errors)
        held_on = None
    rag: dict[str, str] = {}
    raw = data.get("rag") or {}
    for theme in THEMES:
        value = str(raw.get(theme) or data.get(f"rag_{theme}") or "")
        if value:
            if value not in RAG:
                errors[f"rag_{theme}"] = "must be red, amber or green"
            rag[theme] = value
    overall = str(data.get("overall_rag") or "")
    if overall not in RAG:
        errors["overall_rag"] = "choose red, amber or green"
    confidence = str(data.get("confidence") or "")
    if confidence not in CONFIDENCE:
        errors["confidence"] = "say how confident you are of meeting the re-inspection date"
    fields = {
        "audience": audience,
        "held_on": held_on,
        "rag": rag,
        "overall_rag": overall,
        "confidence": confidence,
        "attendees": _text(data, "attendees", errors, required=True),
        "notes": _text(data, "notes", errors),
        "decisions": _text(data, "decisions", errors),
    }
    if errors:
        raise Invalid(errors)
    return fields


async def record(
    viewer: Viewer, case_id: int, data: dict[str, Any], new_actions: list[dict[str, Any]] = ()
) -> dict[str, Any]:  # type: ignore[assignment]
    """Record a held review, schedule the next one, add any new actions to the plan: one
    transaction."""
    case = await cases.get_case(viewer, case_id)
    if case["stage"] == "closed":
        raise Invalid({"case": "the case is closed"})
    fields = clean(data)
    if fields["audience"] == "internal" and not viewer.can_edit_services:
        raise Forbidden("Internal reviews are recorded by the provider")
    if new_actions and not viewer.can_edit_services:
        raise Forbidden("New actions are added to the plan by the provider")
    from improve.plans import domain as plans

    case_row = (
        await Case.select(Case.internal_review_days, Case.commissioner_review_days)
        .where(Case.id == case_id)
        .first()
    )
    days = case_row[CADENCE_FIELD[fields["audience"]]]
    next_on = fields["held_on"] + dt.timedelta(days=days)
    async with write_tx():
        rows = await Review.insert(
            Review(
                case=case_id,
                recorded_by=viewer.user_id,
                recorded_by_name=viewer.name,
                recorded_at=clock.now(),
                **fields,
            )
        ).returning(Review.id)
        field = NEXT_FIELD[fields["audience"]]
        await Case.update({getattr(Case, field): next_on}).where(Case.id == case_id)
        await keep_summary(case_id)
        await history.record(
            actor=viewer,
            service_id=case["service"],
            case_id=case_id,
            entity="review",
            entity_id=rows[0]["id"],
            action="recorded",
            summary=f"{AUDIENCES[fields['audience']]} held {fields['held_on']:%-d %b %Y}: "
            f"{RAG[fields['overall_rag']]}, confidence {fields['confidence']}",
            after={**fields, "next_review_on": next_on},
        )
        if new_actions:
            await plans.commit(viewer, case_id, [], new_actions)
    return await get(viewer, rows[0]["id"])


# A case's last review, its RAG and its first green review, from every review held (a
# review may be recorded late, with an earlier date). Both engines run it as written.
SUMMARY_SQL = """
UPDATE improvement_case SET
  last_review_on = (
    SELECT r.held_on FROM progress_review r WHERE r."case" = improvement_case.id
    ORDER BY r.held_on DESC, r.id DESC LIMIT 1),
  last_review_rag = COALESCE((
    SELECT r.overall_rag FROM progress_review r WHERE r."case" = improvement_case.id
    ORDER BY r.held_on DESC, r.id DESC LIMIT 1), ''),
  first_green_review_on = (
    SELECT MIN(r.held_on) FROM progress_review r
    WHERE r."case" = improvement_case.id AND r.overall_rag = 'green')
"""


async def keep_summary(case_id: int | None = None) -> None:
    """Bring one case's review summary up to date (every case's when None: bulk loads)."""
    if case_id is None:
        await Case.raw(SUMMARY_SQL)
    else:
        await Case.raw(SUMMARY_SQL + " WHERE id = {}", case_id)


async def get(viewer: Viewer, review_id: int) -> dict[str, Any]:
    """One review the viewer can see; another organisation's answers as one that does not
    exist (scoped in the same query)."""
    row = (
        await Review.select(*COLUMNS)
        .where((Review.id == review_id) & Review.case.is_in(cases.visible_case_ids(viewer)))
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound("No such review")
    return row


async def of_case(
    viewer: Viewer, case_id: int, limit: int = 50, offset: int = 0
) -> list[dict[str, Any]]:
    await cases.get_case(viewer, case_id)
    return await recent_of(case_id, limit, offset)


async def recent_of(case_id: int, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    """Newest first, for a case the caller has already found in the viewer's scope."""
    return (
        await Review.select(*COLUMNS)
        .where(Review.case == case_id)
        .order_by(Review.held_on, ascending=False)
        .order_by(Review.id, ascending=False)
        .limit(limit)
        .offset(offset)
        .output(load_json=True)
    )


async def set_cadence(viewer: Viewer, case_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change how often each kind of review is held; the next date follows the new rhythm
    from the last review (or from today when none was held)."""
    case = await cases.editable_case(viewer, case_id)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in CADENCE_FIELD.values():
        if field in data and str(data[field]).strip():
            try:
                days = int(data[field])
            except (TypeError, ValueError):
                errors[field] = "must be a whole number of days"
                continue
            if not 7 <= days <= 120:
                errors[field] = "must be between 7 and 120 days"
                continue
            changes[field] = days
    if errors:
        raise Invalid(errors)
    last = {r["audience"]: r["held_on"] for r in reversed(await of_case(viewer, case_id))}
    for audience, field in CADENCE_FIELD.items():
        if field in changes:
            start = last.get(audience) or clock.today()
            changes[NEXT_FIELD[audience]] = start + dt.timedelta(days=changes[field])
    if changes:
        async with write_tx():
            await Case.update({getattr(Case, k): v for k, v in changes.items()}).where(
                Case.id == case_id
            )
            await history.record(
                actor=viewer,
                service_id=case["service"],
                case_id=case_id,
                entity="case",
                entity_id=case_id,
                action="cadence_changed",
                summary="Review cadence changed",
                after=changes,
            )
    return await cases.get_case(viewer, case_id)
