"""Pages: the case page a manager lives in, findings, stage moves and the activity feed."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import File, Redirect, Template
from markupsafe import Markup

from improve import access, clock, framework, history, snapshots
from improve.cases import casefile
from improve.cases import domain as cases
from improve.cases.stages import OUTCOME_LABELS, STAGE_LABELS
from improve.errors import Conflict, Invalid
from improve.services.tables import RATING_LABELS, Service
from improve.web.auth import CurrentViewer
from improve.web.downloads import csv_download, temporary_download
from improve.web.forms import form_dict
from improve.web.params import Id, Page
from improve.web.templating import fill_csrf, render_partial

FEED_PAGE = 50


async def evidence_for(viewer, finding: dict | None) -> list:
    if finding is None:
        return []
    from improve.evidence import domain as evidence

    return await evidence.for_finding(viewer, finding["id"])


def _labels() -> dict[str, Any]:
    return {
        "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        "STAGE_LABELS": STAGE_LABELS,
        "OUTCOME_LABELS": OUTCOME_LABELS,
        "RATING_LABELS": RATING_LABELS,
        "SOURCES": cases.SOURCES,
        "SEVERITIES": cases.SEVERITIES,
        "FINDING_STATUSES": cases.FINDING_STATUSES,
    }


async def _case_page(
    request: Request, viewer, case_id: int, status: int = 200, **extra: Any
) -> Template:
    """The case page. Its plain form (no errors to show) is rendered once per state of
    the data and kept (improve.snapshots); only the CSRF token is filled in per request."""
    plain = status == 200 and not extra

    async def main() -> tuple[str, Markup]:
        context = await _case_context(viewer, case_id, **extra)
        html = render_partial(request, "cases/_case_main.html", context, keep=plain)
        return context["case"]["service_name"], html

    if plain:
        key = ("case page", case_id, *access.scope_key(viewer))
        service_name, html = await snapshots.kept(key, main)
        html = fill_csrf(request, html)
    else:
        service_name, html = await main()
    return Template(
        "cases/case.html",
        context={"viewer": viewer, "service_name": service_name, "main": html},
        status_code=status,
    )


async def _case_context(viewer, case_id: int, **extra: Any) -> dict[str, Any]:
    from improve.plans import domain as plans
    from improve.reviews import domain as reviews

    view = await cases.case_view(viewer, case_id)
    answered = view["answered_by"]
    summary = plans.summary(view["actions"], clock.today())
    summary["uncovered"] = sum(1 for f in view["findings"] if f["id"] not in answered)
    context = {
        "viewer": viewer,
        **view,
        "framework": framework.get("saf"),
        "errors": {},
        "message": None,
        "plan_summary": summary,
        "due_reviews": reviews.due_reviews(view["case"], clock.today()),
        "AUDIENCES": reviews.AUDIENCES,
        "RAG": reviews.RAG,
        "CONFIDENCE": reviews.CONFIDENCE,
        **_labels(),
    }
    context.update(extra)
    return context


@get("/cases/{case_id:int}", include_in_schema=False)
async def case_page(request: Request, viewer: CurrentViewer, case_id: Id) -> Template:
    return await _case_page(request, viewer, case_id)


@post("/cases/{case_id:int}/stage", include_in_schema=False)
async def move_stage(request: Request, viewer: CurrentViewer, case_id: Id) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await cases.move(
            viewer,
            case_id,
            str(data.get("stage", "")),
            version=cases.validate_version(data.get("version")),
            outcome=str(data.get("outcome", "")),
        )
    except (Invalid, Conflict) as exc:
        errors = exc.errors if isinstance(exc, Invalid) else {"version": str(exc)}
        return await _case_page(
            request, viewer, case_id, status=400 if isinstance(exc, Invalid) else 409, errors=errors
        )
    return Redirect(f"/cases/{case_id}", status_code=303)


@post("/cases/{case_id:int}/dates", include_in_schema=False)
async def change_dates(request: Request, viewer: CurrentViewer, case_id: Id) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await cases.update_dates(
            viewer, case_id, data, version=cases.validate_version(data.get("version"))
        )
    except (Invalid, Conflict) as exc:
        errors = exc.errors if isinstance(exc, Invalid) else {"version": str(exc)}
        return await _case_page(
            request, viewer, case_id, status=400 if isinstance(exc, Invalid) else 409, errors=errors
        )
    return Redirect(f"/cases/{case_id}", status_code=303)


async def _finding_page(
    viewer,
    case: dict,
    values: dict,
    errors: dict,
    finding: dict | None = None,
    status: int = 200,
    withdrawing: int | None = None,
) -> Template:
    return Template(
        "cases/finding_form.html",
        context={
            "viewer": viewer,
            "case": case,
            "values": values,
            "errors": errors,
            "finding": finding,
            "evidence": await evidence_for(viewer, finding),
            "withdrawing": withdrawing,
            "framework": framework.get(values.get("framework") or "saf"),
            **_labels(),
        },
        status_code=status,
    )


@get("/cases/{case_id:int}/findings/new", include_in_schema=False)
async def new_finding(viewer: CurrentViewer, case_id: Id) -> Template:
    case = await cases.editable_case(viewer, case_id)
    return await _finding_page(
        viewer, case, {"source": "cqc_inspection", "severity": "high", "items": []}, {}
    )


@post("/cases/{case_id:int}/findings/new", include_in_schema=False)
async def add_finding(request: Request, viewer: CurrentViewer, case_id: Id) -> Template | Redirect:
    case = await cases.editable_case(viewer, case_id)
    data = await form_dict(request, "items")
    try:
        await cases.add_finding(viewer, case_id, data)
    except Invalid as exc:
        return await _finding_page(viewer, case, data, exc.errors, status=400)
    if data.get("another"):
        return Redirect(f"/cases/{case_id}/findings/new?added=1", status_code=303)
    return Redirect(f"/cases/{case_id}#findings", status_code=303)


@get("/findings/{finding_id:int}/edit", include_in_schema=False)
async def edit_finding(viewer: CurrentViewer, finding_id: Id) -> Template:
    finding = await cases.get_finding(viewer, finding_id)
    case = await cases.editable_case(viewer, finding["case"])
    return await _finding_page(viewer, case, finding, {}, finding)


@post("/findings/{finding_id:int}/edit", include_in_schema=False)
async def save_finding(
    request: Request, viewer: CurrentViewer, finding_id: Id
) -> Template | Redirect:
    finding = await cases.get_finding(viewer, finding_id)
    case = await cases.editable_case(viewer, finding["case"])
    data = await form_dict(request, "items")
    try:
        await cases.update_finding(
            viewer, finding_id, data, version=cases.validate_version(data.get("version"))
        )
    except Invalid as exc:
        merged = {**finding, **data}
        return await _finding_page(viewer, case, merged, exc.errors, finding, status=400)
    except Conflict as exc:
        fresh = await cases.get_finding(viewer, finding_id)
        return await _finding_page(viewer, case, fresh, {"version": str(exc)}, fresh, status=409)
    return Redirect(f"/cases/{case['id']}#findings", status_code=303)


@get("/cases/{case_id:int}/activity", include_in_schema=False)
async def activity(
    viewer: CurrentViewer,
    case_id: Id,
    entity: FromQuery[str] = "",
    action: FromQuery[str] = "",
    page: Page = 1,
) -> Template:
    case = await cases.get_case(viewer, case_id)
    events = await history.feed(
        viewer,
        case_id,
        entity=entity,
        action=action,
        limit=FEED_PAGE,
        offset=(page - 1) * FEED_PAGE,
    )
    total = await history.count(viewer, case_id, entity=entity, action=action)
    await _changes_in_words(case, events)
    return Template(
        "cases/activity.html",
        context={
            "viewer": viewer,
            "case": case,
            "events": events,
            "entity": entity,
            "kinds": history.KINDS,
            "action": action,
            "page": page,
            "pages": max(1, -(-total // FEED_PAGE)),
            "total": total,
        },
    )


async def _changes_in_words(case: dict, events: list[dict]) -> None:
    """Every event's before and after in words (labels, statuses and dates as people
    write them, owners by name); one query for the names, and only when an action's
    event needs them."""
    from improve import history_words
    from improve.plans import actions as plan_actions
    from improve.plans import domain as plans

    names: dict[int, str] = {}
    if any(e["entity"] == "action" for e in events):
        service = (
            await Service.select(Service.provider).where(Service.id == case["service"]).first()
        )
        names = {p["id"]: p["name"] for p in await plans.provider_people(service["provider"])}
    for e in events:
        if e["entity"] == "action" and e["before"]:  # the fields its own page follows
            e["words"] = plan_actions.readable_changes(e["before"], e["after"], names)
        else:
            e["words"] = history_words.in_words(e["entity"], e["before"], e["after"], names)


@get("/cases/{case_id:int}/casefile.zip", include_in_schema=False)
async def case_file(viewer: CurrentViewer, case_id: Id) -> File:
    made = await casefile.build(viewer, case_id)
    return temporary_download(made.path, made.filename, "application/zip")


@get("/cases/{case_id:int}/activity.csv", include_in_schema=False)
async def activity_csv(
    viewer: CurrentViewer,
    case_id: Id,
    entity: FromQuery[str] = "",
    action: FromQuery[str] = "",
) -> Response:
    await cases.get_case(viewer, case_id)
    body = await history.export_csv(viewer, case_id, entity=entity, action=action)
    return csv_download(body, f"case-{case_id}-history.csv")


ROUTES = [
    case_page,
    move_stage,
    change_dates,
    new_finding,
    add_finding,
    edit_finding,
    save_finding,
    activity,
    activity_csv,
    case_file,
]
