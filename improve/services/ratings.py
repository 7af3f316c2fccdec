"""Published CQC ratings and the enforcement that came with them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from improve import access, clock, history
from improve.access import Viewer
from improve.errors import DATE_RANGE, EARLIEST, LATEST, Invalid, parse_date
from improve.framework import KEY_QUESTIONS
from improve.services.tables import (
    ENFORCEMENT_LABELS,
    RATING_LABELS,
    Enforcement,
    EnforcementKind,
    Rating,
    RatingValue,
    Service,
)

# Spellings seen in CQC data and typed by people, all lower-cased.
_SPELLINGS = {
    "outstanding": RatingValue.OUTSTANDING,
    "good": RatingValue.GOOD,
    "requires improvement": RatingValue.REQUIRES_IMPROVEMENT,
    "requires_improvement": RatingValue.REQUIRES_IMPROVEMENT,
    "inadequate": RatingValue.INADEQUATE,
}
_NOT_RATED = {"", "not rated", "not_rated", "insufficient evidence to rate", "none"}
# worst first: for "is this better than that"
ORDER = [
    RatingValue.INADEQUATE,
    RatingValue.REQUIRES_IMPROVEMENT,
    RatingValue.GOOD,
    RatingValue.OUTSTANDING,
]


def normalise(value: Any, field_name: str = "rating") -> str:
    """A rating value from any of its spellings; "" when not rated."""
    text = " ".join(str(value or "").replace("-", " ").split()).lower()
    if text in _NOT_RATED:
        return ""
    if text in _SPELLINGS:
        return _SPELLINGS[text].value
    raise Invalid(
        {
            field_name: f"'{value}' is not a rating (Outstanding, Good, Requires "
            "improvement, Inadequate or Not rated)"
        }
    )


def label(value: str) -> str:
    return RATING_LABELS.get(value, value)


@dataclass(frozen=True)
class EnforcementIn:
    kind: str
    regulation: str = ""
    description: str = ""
    issued_on: dt.date | None = None
    compliance_due_on: dt.date | None = None


@dataclass(frozen=True)
class RatingIn:
    published_on: dt.date
    overall: str
    key_questions: dict[str, str] = field(default_factory=dict)
    source: str = "manual"
    report_link_id: str = ""
    enforcement: tuple[EnforcementIn, ...] = ()
    # "" for the location's own rating; else the service type CQC rated on its own
    service_type: str = ""
    assessed_on: dt.date | None = None


def clean_rating(data: dict[str, Any]) -> RatingIn:
    """From form or API fields: published_on, overall, safe ... well_led, enforcement."""
    errors: dict[str, str] = {}
    published = data.get("published_on")
    if isinstance(published, str):
        try:
            published = dt.date.fromisoformat(published)
        except ValueError:
            errors["published_on"] = "must be a date (YYYY-MM-DD)"
    if not isinstance(published, dt.date) and "published_on" not in errors:
        errors["published_on"] = "is required"
    elif isinstance(published, dt.date) and not EARLIEST <= published <= LATEST:
        errors["published_on"] = f"must be a date {DATE_RANGE}"
    elif isinstance(published, dt.date) and published > clock.today():
        errors["published_on"] = "cannot be in the future"
    values: dict[str, str] = {}
    for name in ("overall", *KEY_QUESTIONS):
        try:
            values[name] = normalise(data.get(name), name)
        except Invalid as exc:
            errors.update(exc.errors)
    if not errors and not values["overall"] and not any(values[k] for k in KEY_QUESTIONS):
        errors["overall"] = "give the overall rating or at least one key question"
    notices = []
    for n, item in enumerate(data.get("enforcement") or [], 1):
        try:
            notices.append(_clean_enforcement(item))
        except Invalid as exc:
            errors.update({f"enforcement[{n}].{k}": v for k, v in exc.errors.items()})
    if errors:
        raise Invalid(errors)
    return RatingIn(
        published_on=published,  # type: ignore[arg-type]
        overall=values["overall"],
        key_questions={k: values[k] for k in KEY_QUESTIONS},
        source=str(data.get("source") or "manual"),
        report_link_id=str(data.get("report_link_id") or ""),
        enforcement=tuple(notices),
    )


def _clean_enforcement(item: dict[str, Any]) -> EnforcementIn:
    try:
        kind = EnforcementKind(item.get("kind"))
    except ValueError:
        allowed = ", ".join(k.value for k in EnforcementKind)
        raise Invalid({"kind": f"must be one of {allowed}"}) from None
    due = parse_date(item.get("compliance_due_on"), "compliance_due_on")
    if kind == EnforcementKind.WARNING_NOTICE and due is None:
        raise Invalid({"compliance_due_on": "a warning notice needs its compliance date"})
    regulation = str(item.get("regulation") or "").upper().removeprefix("REG").strip()
    return EnforcementIn(
        kind.value,
        regulation,
        str(item.get("description") or "")[:2000],
        parse_date(item.get("issued_on"), "issued_on"),
        due,
    )


RATING_COLUMNS = (
    Rating.id,
    Rating.service,
    Rating.published_on,
    Rating.overall,
    Rating.safe,
    Rating.effective,
    Rating.caring,
    Rating.responsive,
    Rating.well_led,
    Rating.source,
    Rating.report_link_id,
    Rating.service_type,
    Rating.assessed_on,
)


def of_type(service_type: str | None) -> str:
    """How a rating's service type reads: "" is the location's own rating."""
    return f" ({service_type})" if service_type else ""


async def store(viewer: Viewer | None, service_id: int, rating: RatingIn) -> tuple[dict, bool]:
    """Insert the rating unless the service already has one of that date and service type
    (idempotent). Must run inside the caller's write transaction. Returns (row, created)."""
    inserted = (
        await Rating.insert(
            Rating(
                service=service_id,
                published_on=rating.published_on,
                overall=rating.overall,
                source=rating.source,
                report_link_id=rating.report_link_id,
                service_type=rating.service_type,
                assessed_on=rating.assessed_on,
                created_at=clock.now(),
                **rating.key_questions,
            )
        )
        .on_conflict(
            target=(Rating.service, Rating.published_on, Rating.service_type),
            action="DO NOTHING",
        )
        .returning(Rating.id)
    )
    row = (
        await Rating.select(*RATING_COLUMNS)
        .where(
            (Rating.service == service_id)
            & (Rating.published_on == rating.published_on)
            & (Rating.service_type == rating.service_type)
        )
        .first()
    )
    if not inserted:
        return row, False
    for notice in rating.enforcement:
        await Enforcement.insert(
            Enforcement(
                service=service_id,
                rating=row["id"],
                kind=notice.kind,
                regulation=notice.regulation,
                description=notice.description,
                issued_on=notice.issued_on or rating.published_on,
                compliance_due_on=notice.compliance_due_on,
                created_at=clock.now(),
            )
        )
    summary = (
        f"Rating published {rating.published_on:%-d %b %Y}{of_type(rating.service_type)}: "
        f"{label(rating.overall)} overall"
    )
    await history.record(
        actor=viewer,
        service_id=service_id,
        case_id=None,
        entity="rating",
        entity_id=row["id"],
        action="recorded",
        summary=summary,
        after={
            k: row[k]
            for k in ("published_on", "overall", *KEY_QUESTIONS, "service_type")
            if k != "service_type" or row[k]
        },
    )
    return row, True


async def for_service(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    """The service's ratings, newest first, each with its enforcement (two queries)."""
    await access.service_or_404(viewer, service_id, Service.id)
    ratings = (
        await Rating.select(*RATING_COLUMNS)
        .where(Rating.service == service_id)
        .order_by(Rating.published_on, ascending=False)
        .order_by(Rating.service_type)  # a date's own rating first, then its service types
    )
    notices = await enforcement_for(service_id)
    for r in ratings:
        r["enforcement"] = [n for n in notices if n["rating"] == r["id"]]
        r["key_questions"] = {k: r[k] for k in KEY_QUESTIONS}
    return ratings


async def enforcement_for(service_id: int) -> list[dict[str, Any]]:
    rows = (
        await Enforcement.select(
            Enforcement.id,
            Enforcement.rating,
            Enforcement.kind,
            Enforcement.regulation,
            Enforcement.description,
            Enforcement.issued_on,
            Enforcement.compliance_due_on,
        )
        .where(Enforcement.service == service_id)
        .order_by(Enforcement.issued_on)
    )
    for r in rows:
        r["kind_label"] = ENFORCEMENT_LABELS.get(EnforcementKind(r["kind"]), r["kind"])
    return rows


async def warning_notices_of(rating_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The warning notices with a compliance date that came with these ratings, by rating
    (one query; the reminder scan and the calendar ask it for every open case at once)."""
    notices: dict[int, list[dict[str, Any]]] = {}
    if not rating_ids:
        return notices
    for n in await Enforcement.select(
        Enforcement.rating, Enforcement.regulation, Enforcement.compliance_due_on
    ).where(
        Enforcement.rating.is_in(rating_ids)
        & (Enforcement.kind == EnforcementKind.WARNING_NOTICE)
        & Enforcement.compliance_due_on.is_not_null()
    ):
        notices.setdefault(n["rating"], []).append(n)
    return notices


def better(a: str, b: str) -> bool:
    """Is rating a better than rating b? (Not rated compares as unknown: never better.)"""
    if not a or not b:
        return False
    return ORDER.index(RatingValue(a)) > ORDER.index(RatingValue(b))
