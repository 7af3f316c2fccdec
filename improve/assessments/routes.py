"""Pages for self-assessment: the projection beside the real rating, the scoring form
(prefilled from the last assessment) and every past assessment."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from improve import access, clock, framework
from improve.assessments import domain as assessments
from improve.assessments import scoring
from improve.errors import Invalid
from improve.services.tables import RATING_LABELS, Service
from improve.web.auth import CurrentViewer
from improve.web.forms import form_dict
from improve.web.params import Id


def _labels() -> dict[str, Any]:
    return {
        "RATING_LABELS": RATING_LABELS,
        "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        "SCORE_MEANINGS": scoring.SCORE_MEANINGS,
        "ROUNDING_RULE": scoring.ROUNDING_RULE,
        "LIMITER_RULE": scoring.LIMITER_RULE,
        "BANDS": scoring.BANDS,
    }


@get("/services/{service_id:int}/assessments", include_in_schema=False)
async def assessments_page(viewer: CurrentViewer, service_id: Id) -> Template:
    page = await assessments.page(viewer, service_id)
    return Template("assessments/service.html", context={"viewer": viewer, **page, **_labels()})


async def _form(viewer, service_id: int, values: dict, errors: dict, status=200) -> Template:
    service = await access.editable_service(viewer, service_id, Service.id, Service.name)
    if not values:  # start from the last assessment: people re-score what changed
        past = await assessments.history_of(viewer, service_id)
        if past:
            last = await assessments.get(viewer, past[0]["id"])
            values = {f"score.{k}": str(v) for k, v in last["scores"].items()}
            values |= {f"evidence.{k}": v for k, v in last["evidence"].items()}
        values["assessed_on"] = clock.today().isoformat()
    return Template(
        "assessments/form.html",
        context={
            "viewer": viewer,
            "service": service,
            "framework": framework.get("saf"),
            "values": values,
            "errors": errors,
            **_labels(),
        },
        status_code=status,
    )


@get("/services/{service_id:int}/assessments/new", include_in_schema=False)
async def assessment_form(viewer: CurrentViewer, service_id: Id) -> Template:
    return await _form(viewer, service_id, {}, {})


@post("/services/{service_id:int}/assessments/new", include_in_schema=False)
async def record_assessment(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    data = await form_dict(request)
    try:
        saved = await assessments.record(viewer, service_id, data)
    except Invalid as exc:
        return await _form(viewer, service_id, data, exc.errors, status=400)
    return Redirect(f"/assessments/{saved['id']}", status_code=303)


@get("/assessments/{assessment_id:int}", include_in_schema=False)
async def assessment_page(viewer: CurrentViewer, assessment_id: Id) -> Template:
    row = await assessments.get(viewer, assessment_id)
    service = await access.service_or_404(viewer, row["service"], Service.id, Service.name)
    return Template(
        "assessments/assessment.html",
        context={
            "viewer": viewer,
            "a": row,
            "service": service,
            "framework": framework.get(row["framework"]),
            "rating": await assessments.latest_rating(row["service"]),
            **_labels(),
        },
    )


PAGE_ROUTES = [assessments_page, assessment_form, record_assessment, assessment_page]
