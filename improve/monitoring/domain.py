"""Commissioners' monitoring: their own levels, the level each service is held at with a
review date (reminded by the jobs), and their own visits.

A visit's findings join the service's open case, so the provider answers one plan and
not one per inspector; a commissioner's concern opens a case where there is none, even
when CQC has not rated the service Inadequate.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import access, clock, framework, history
from improve.access import Viewer
from improve.accounts.tables import Role
from improve.cases import domain as cases
from improve.cases.stages import Stage
from improve.cases.tables import Case, Finding
from improve.db import write_tx
from improve.errors import Forbidden, Invalid, parse_date
from improve.monitoring.tables import MonitoringLevel, MonitoringStatus, MonitoringVisit
from improve.services.tables import Service
from improve.settings import get_settings

# A typical council's ladder (domain.md); each organisation adapts or replaces it.
DEFAULT_LEVELS = (
    ("Routine", 1, 180, "Normal contract monitoring."),
    ("Enhanced monitoring", 2, 60, "More frequent visits and data returns."),
    ("Provider concerns", 3, 28, "Provider concerns process (Care Act 2014, s42 patterns)."),
    ("Placements suspended", 4, 14, "No new placements until the remedial plan is met."),
)
VISIT_KINDS = {
    "quality_audit": "Quality audit (PAMMS-style)",
    "monitoring_visit": "Monitoring visit",
    "unannounced": "Unannounced visit",
    "provider_concerns": "Provider concerns meeting",
}
OUTCOMES = {
    "excellent": "Excellent",
    "good": "Good",
    "requires_improvement": "Requires improvement",
    "poor": "Poor",
}
NEEDS_PLAN = ("requires_improvement", "poor")  # PAMMS: an action plan within 14 days
LEVEL_COLUMNS = (
    MonitoringLevel.id,
    MonitoringLevel.name,
    MonitoringLevel.rank,
    MonitoringLevel.review_every_days,
    MonitoringLevel.description,
)


def _commissioner_only(viewer: Viewer) -> None:
    if viewer.role != Role.COMMISSIONER:
        raise Forbidden("Only commissioners record monitoring")


# --- levels ------------------------------------------------------------------------------


async def levels_page(viewer: Viewer) -> list[dict[str, Any]]:
    _commissioner_only(viewer)
    return await levels_of(viewer.organisation_id)


async def levels_of(organisation_id: int) -> list[dict[str, Any]]:
    return (
        await MonitoringLevel.select(*LEVEL_COLUMNS)
        .where(MonitoringLevel.commissioner == organisation_id)
        .order_by(MonitoringLevel.rank)
        .order_by(MonitoringLevel.name)
    )


def clean_level(data: dict[str, Any]) -> dict[str, Any]:
    errors = {}
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 80:
        errors["name"] = "is required (at most 80 characters)"
    out: dict[str, Any] = {"name": name}
    for field, low, high in (("rank", 1, 10), ("review_every_days", 1, 730)):
        try:
            out[field] = int(str(data.get(field) or "").strip())
            if not low <= out[field] <= high:
                raise ValueError
        except ValueError:
            errors[field] = f"must be a whole number from {low} to {high}"
    out["description"] = str(data.get("description") or "").strip()[:1000]
    if errors:
        raise Invalid(errors)
    return out


async def add_level(viewer: Viewer, data: dict[str, Any]) -> dict[str, Any]:
    _commissioner_only(viewer)
    fields = clean_level(data)
    async with write_tx():
        if await MonitoringLevel.exists().where(
            (MonitoringLevel.commissioner == viewer.organisation_id)
            & (MonitoringLevel.name == fields["name"])
        ):
            raise Invalid({"name": "your organisation already has a level with this name"})
        rows = await MonitoringLevel.insert(
            MonitoringLevel(commissioner=viewer.organisation_id, created_at=clock.now(), **fields)
        ).returning(*LEVEL_COLUMNS)
    return rows[0]


async def add_default_levels(viewer: Viewer) -> int:
    """The usual four levels, for an organisation that has none yet."""
    _commissioner_only(viewer)
    async with write_tx():
        if await MonitoringLevel.exists().where(
            MonitoringLevel.commissioner == viewer.organisation_id
        ):
            return 0
        await MonitoringLevel.insert(
            *[
                MonitoringLevel(
                    commissioner=viewer.organisation_id,
                    name=name,
                    rank=rank,
                    review_every_days=days,
                    description=text,
                    created_at=clock.now(),
                )
                for name, rank, days, text in DEFAULT_LEVELS
            ]
        )
    return len(DEFAULT_LEVELS)


# --- the level of one service -----------------------------------------------------------


async def status_of(viewer: Viewer, service_id: int) -> dict[str, Any] | None:
    """The viewer's organisation's level for the service (commissioners only)."""
    if viewer.role != Role.COMMISSIONER:
        return None
    return (
        await MonitoringStatus.select(
            MonitoringStatus.level,
            MonitoringStatus.level.name.as_alias("level_name"),
            MonitoringStatus.level.rank.as_alias("level_rank"),
            MonitoringStatus.review_on,
            MonitoringStatus.note,
            MonitoringStatus.set_at,
        )
        .where(
            (MonitoringStatus.service == service_id)
            & (MonitoringStatus.commissioner == viewer.organisation_id)
        )
        .first()
    )


async def set_level(viewer: Viewer, service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Hold the service at one of the organisation's levels, with the next review date
    (by default the level's review interval from today)."""
    await access.service_or_404(viewer, service_id, Service.id)  # 404 before 403
    _commissioner_only(viewer)
    errors = {}
    try:
        level_id = int(str(data.get("level") or ""))
    except ValueError:
        level_id = 0
    level = (
        await MonitoringLevel.select(*LEVEL_COLUMNS)
        .where(
            (MonitoringLevel.id == level_id)
            & (MonitoringLevel.commissioner == viewer.organisation_id)
        )
        .first()
    )
    if level is None:
        errors["level"] = "choose one of your organisation's monitoring levels"
    review_on = None
    if data.get("review_on"):
        try:
            review_on = parse_date(data["review_on"], "review_on")
            if review_on < clock.today():
                errors["review_on"] = "must be today or later"
        except Invalid as e:
            errors.update(e.errors)
    if errors:
        raise Invalid(errors)
    if review_on is None:
        review_on = clock.today() + dt.timedelta(days=level["review_every_days"])
    note = str(data.get("note") or "").strip()[:2000]
    async with write_tx():
        before = await status_of(viewer, service_id)
        values = {"level": level["id"], "review_on": review_on, "note": note}
        await MonitoringStatus.insert(
            MonitoringStatus(
                service=service_id,
                commissioner=viewer.organisation_id,
                set_by=viewer.user_id,
                set_at=clock.now(),
                **values,
            )
        ).on_conflict(
            target=(MonitoringStatus.service, MonitoringStatus.commissioner),
            action="DO UPDATE",
            values=[
                MonitoringStatus.level,
                MonitoringStatus.review_on,
                MonitoringStatus.note,
                MonitoringStatus.set_by,
                MonitoringStatus.set_at,
            ],
        )
        case = await cases.open_case_for(service_id)
        was = before["level_name"] if before else None
        moved = f"{was or 'none'} → {level['name']}" if was != level["name"] else "kept at " + was
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=case["id"] if case else None,
            entity="monitoring",
            entity_id=None,
            action="level_set",
            summary=f"{viewer.organisation_name}: monitoring level {moved}, "
            f"next review {review_on:%-d %b %Y}",
            before={"level": was, "review_on": before["review_on"] if before else None},
            after={"level": level["name"], "review_on": review_on},
        )
    return await status_of(viewer, service_id) or {}


# --- visits ------------------------------------------------------------------------------


def clean_visit(data: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    try:
        out["visited_on"] = parse_date(data.get("visited_on"), "visited_on")
        if out["visited_on"] is None:
            errors["visited_on"] = "is required"
        elif out["visited_on"] > clock.today():
            errors["visited_on"] = "cannot be in the future"
    except Invalid as e:
        errors.update(e.errors)
    for field, allowed in (("kind", VISIT_KINDS), ("outcome", OUTCOMES)):
        value = str(data.get(field) or "")
        if value not in allowed:
            errors[field] = "must be one of " + ", ".join(allowed.values())
        out[field] = value
    out["summary"] = str(data.get("summary") or "").strip()
    if not out["summary"]:
        errors["summary"] = "say what the visit found"
    elif len(out["summary"]) > 10_000:
        errors["summary"] = "must be at most 10000 characters"
    findings = []
    for i, raw in enumerate(data.get("findings") or []):
        try:
            findings.append(
                cases.clean_finding(
                    {
                        **raw,
                        "source": "commissioner_visit",
                        "severity": raw.get("severity") or "high",
                    }
                )
            )
        except Invalid as e:
            errors.update({f"findings[{i}].{k}": v for k, v in e.errors.items()})
    if out.get("outcome") in NEEDS_PLAN and not findings:
        errors["findings"] = "a visit rated Requires improvement or Poor needs its findings"
    if errors:
        raise Invalid(errors)
    return out, findings


async def record_visit(viewer: Viewer, service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Record a visit; its findings join the open case, or open one (a commissioner's
    concern) when the outcome needs a plan. Returns the visit with its case id."""
    service = await access.service_or_404(viewer, service_id, Service.id, Service.name)
    _commissioner_only(viewer)
    visit, findings = clean_visit(data)
    due = None
    if visit["outcome"] in NEEDS_PLAN:
        due = visit["visited_on"] + dt.timedelta(days=get_settings().commissioner_plan_days)
    async with write_tx():
        case = await cases.open_case_for(service_id)
        opened = False
        if case is None and findings:
            case = await _open_from_concern(viewer, service, visit, due)
            opened = True
        finding_ids = []
        for f in findings:
            rows = await Finding.insert(
                Finding(case=case["id"], created_by=viewer.user_id, created_at=clock.now(), **f)
            ).returning(Finding.id)
            finding_ids.append(rows[0]["id"])
        rows = await MonitoringVisit.insert(
            MonitoringVisit(
                service=service_id,
                commissioner=viewer.organisation_id,
                case=case["id"] if case else None,
                finding_ids=finding_ids,
                action_plan_due_on=due,
                recorded_by=viewer.user_id,
                created_at=clock.now(),
                **visit,
            )
        ).returning(MonitoringVisit.id)
        if case:
            await _add_finding_history(viewer, case, findings, finding_ids)
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=case["id"] if case else None,
            entity="visit",
            entity_id=rows[0]["id"],
            action="recorded",
            summary=f"{viewer.organisation_name}: {VISIT_KINDS[visit['kind']]} on "
            f"{visit['visited_on']:%-d %b %Y}, rated {OUTCOMES[visit['outcome']]}"
            + (f"; action plan due {due:%-d %b %Y}" if due else ""),
        )
    return {
        "id": rows[0]["id"],
        "case_id": case["id"] if case else None,
        "case_opened": opened,
        "findings": len(finding_ids),
        "action_plan_due_on": due,
    }


async def _open_from_concern(viewer, service, visit, due) -> dict[str, Any]:
    rows = await Case.insert(
        Case(
            service=service["id"],
            stage=Stage.ASSESSING,
            special_measures=False,
            opened_on=clock.today(),
            action_plan_due_on=due,
            created_by=viewer.user_id,
            created_at=clock.now(),
            **cases.first_reviews(clock.today()),
        )
    ).returning(Case.id)
    case = {"id": rows[0]["id"], "service": service["id"]}
    await history.record(
        actor=viewer,
        service_id=service["id"],
        case_id=case["id"],
        entity="case",
        entity_id=case["id"],
        action="opened",
        summary=f"Case opened from {viewer.organisation_name}'s concern after its visit on "
        f"{visit['visited_on']:%-d %b %Y}",
        after={"stage": Stage.ASSESSING, "action_plan_due_on": due},
    )
    return case


async def _add_finding_history(viewer, case, findings, finding_ids) -> None:
    for f, finding_id in zip(findings, finding_ids, strict=True):
        await history.record(
            actor=viewer,
            service_id=case["service"],
            case_id=case["id"],
            entity="finding",
            entity_id=finding_id,
            action="added",
            summary=f"Finding from a commissioner's visit: regulation {f['regulation']}, "
            f"{framework.KEY_QUESTION_TITLES[f['key_question']]}",
            after=f,
        )


async def visits_of(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    """Visits to the service: a commissioner sees their own organisation's; the provider
    sees every commissioner's (they have to answer them)."""
    await access.service_or_404(viewer, service_id, Service.id)
    query = MonitoringVisit.select(
        MonitoringVisit.id,
        MonitoringVisit.visited_on,
        MonitoringVisit.kind,
        MonitoringVisit.outcome,
        MonitoringVisit.summary,
        MonitoringVisit.case,
        MonitoringVisit.finding_ids,
        MonitoringVisit.action_plan_due_on,
        MonitoringVisit.commissioner.name.as_alias("commissioner_name"),
    ).where(MonitoringVisit.service == service_id)
    if viewer.role == Role.COMMISSIONER:
        query = query.where(MonitoringVisit.commissioner == viewer.organisation_id)
    return await query.order_by(MonitoringVisit.visited_on, ascending=False)


async def monitoring_page(viewer: Viewer, service_id: int) -> dict[str, Any]:
    service = await access.service_or_404(viewer, service_id, Service.id, Service.name)
    _commissioner_only(viewer)
    return {
        "service": service,
        "levels": await levels_of(viewer.organisation_id),
        "status": await status_of(viewer, service_id),
        "visits": await visits_of(viewer, service_id),
        "case": await cases.open_case_for(service_id),
    }
