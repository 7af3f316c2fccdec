"""Self-assessments: scoring the service against the quality statements on a date,
storing every assessment, and the projected rating by CQC's rules (scoring.py).

Providers (managers and quality leads) assess; commissioners read.
"""

from __future__ import annotations

from typing import Any

from improve import access, clock, framework, history
from improve.access import Viewer
from improve.assessments import scoring
from improve.assessments.tables import SelfAssessment, StatementScore
from improve.cases import domain as cases
from improve.cases.tables import Finding
from improve.db import write_tx
from improve.errors import Invalid, NotFound, parse_date
from improve.services.tables import Rating, Service

MAX_EVIDENCE = 5000
COLUMNS = (
    SelfAssessment.id,
    SelfAssessment.service,
    SelfAssessment.case,
    SelfAssessment.assessed_on,
    SelfAssessment.framework,
    SelfAssessment.breach,
    SelfAssessment.projected_overall,
    SelfAssessment.results,
    SelfAssessment.assessed_by.name.as_alias("assessed_by_name"),
    SelfAssessment.created_at,
)


def clean(fw: framework.Framework, data: dict[str, Any]) -> dict[str, Any]:
    """Scores are `score.<statement id>` 1-4 (blank: not assessed), evidence
    `evidence.<statement id>`. Names every bad field."""
    errors: dict[str, str] = {}
    try:
        assessed_on = parse_date(data.get("assessed_on"), "assessed_on")
        if assessed_on is None:
            errors["assessed_on"] = "is required"
        elif assessed_on > clock.today():
            errors["assessed_on"] = "cannot be in the future"
    except Invalid as e:
        errors.update(e.errors)
        assessed_on = None
    scores: dict[str, int] = {}
    evidence: dict[str, str] = {}
    for item in fw.items.values():
        raw = str(data.get(f"score.{item.id}") or "").strip()
        note = str(data.get(f"evidence.{item.id}") or "").strip()
        if len(note) > MAX_EVIDENCE:
            errors[f"evidence.{item.id}"] = f"at most {MAX_EVIDENCE} characters"
        if not raw:
            continue
        if raw not in ("1", "2", "3", "4"):
            errors[f"score.{item.id}"] = "must be 1, 2, 3 or 4"
            continue
        scores[item.id] = int(raw)
        evidence[item.id] = note
    unknown = [
        k for k in data if k.startswith("score.") and k.removeprefix("score.") not in fw.items
    ]
    for k in unknown:
        errors[k] = "is not a quality statement of this framework"
    if not scores and not errors:
        errors["scores"] = "score at least one quality statement"
    if errors:
        raise Invalid(errors)
    return {"assessed_on": assessed_on, "scores": scores, "evidence": evidence}


async def _open_breach(case_id: int | None) -> bool:
    """A breach of regulations still open caps the projection (ratings principle 6)."""
    if case_id is None:
        return False
    return await Finding.exists().where(
        (Finding.case == case_id) & (Finding.status == "open") & (Finding.regulation != "")
    )


def project(fw: framework.Framework, scores: dict[str, int], breach: bool) -> scoring.Assessment:
    kq_of = {i.id: i.key_question for i in fw.items.values()}
    return scoring.assess(scores, kq_of, breach=breach)


def results_json(result: scoring.Assessment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kq, r in result.key_questions.items():
        out[kq] = None if r is None else {"rating": r.rating.value, "percent": r.shown_percent}
    return out


async def record(viewer: Viewer, service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    await access.editable_service(viewer, service_id, Service.id)
    fw = framework.get("saf")
    fields = clean(fw, data)
    case = await cases.open_case_for(service_id)
    breach = await _open_breach(case["id"] if case else None)
    result = project(fw, fields["scores"], breach)
    overall = result.overall.rating.value if result.overall.rating else ""
    async with write_tx():
        rows = await SelfAssessment.insert(
            SelfAssessment(
                service=service_id,
                case=case["id"] if case else None,
                assessed_on=fields["assessed_on"],
                framework=fw.id,
                breach=breach,
                projected_overall=overall,
                results=results_json(result),
                assessed_by=viewer.user_id if viewer.user_id > 0 else None,
                created_at=clock.now(),
            )
        ).returning(SelfAssessment.id)
        assessment_id = rows[0]["id"]
        await StatementScore.insert(
            *[
                StatementScore(
                    assessment=assessment_id,
                    statement=sid,
                    score=score,
                    evidence=fields["evidence"].get(sid, ""),
                )
                for sid, score in fields["scores"].items()
            ]
        )
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=case["id"] if case else None,
            entity="self_assessment",
            entity_id=assessment_id,
            action="recorded",
            summary=f"Self-assessment of {len(fields['scores'])} quality statements on "
            f"{fields['assessed_on']:%-d %b %Y}: projected "
            f"{scoring.label(result.overall.rating) if result.overall.rating else 'not rated'}",
        )
    return await get(viewer, assessment_id)


async def get(viewer: Viewer, assessment_id: int) -> dict[str, Any]:
    row = (
        await SelfAssessment.select(*COLUMNS)
        .where(
            (SelfAssessment.id == assessment_id)
            & SelfAssessment.service.is_in(access.visible_service_ids(viewer))
        )
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound("No such self-assessment")
    scores = await StatementScore.select(
        StatementScore.statement, StatementScore.score, StatementScore.evidence
    ).where(StatementScore.assessment == assessment_id)
    row["scores"] = {s["statement"]: s["score"] for s in scores}
    row["evidence"] = {s["statement"]: s["evidence"] for s in scores}
    fw = framework.get(row["framework"])
    row["result"] = project(fw, row["scores"], row["breach"])
    return row


async def history_of(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    """Every assessment of the service, newest first (projection over time)."""
    await access.service_or_404(viewer, service_id, Service.id)
    return (
        await SelfAssessment.select(*COLUMNS)
        .where(SelfAssessment.service == service_id)
        .order_by(SelfAssessment.assessed_on, ascending=False)
        .order_by(SelfAssessment.id, ascending=False)
        .output(load_json=True)
    )


async def latest_rating(service_id: int) -> dict[str, Any] | None:
    return (
        await Rating.select()
        .where((Rating.service == service_id) & (Rating.service_type == ""))  # the location's
        .order_by(Rating.published_on, ascending=False)
        .first()
    )


async def page(viewer: Viewer, service_id: int) -> dict[str, Any]:
    service = await access.service_or_404(viewer, service_id, Service.id, Service.name)
    past = await history_of(viewer, service_id)
    latest = await get(viewer, past[0]["id"]) if past else None
    return {
        "service": service,
        "assessments": past,
        "latest": latest,
        "rating": await latest_rating(service_id),
        "framework": framework.get("saf"),
    }
