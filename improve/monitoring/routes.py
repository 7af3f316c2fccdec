"""Pages for commissioners' monitoring: their levels, a service's level and visits."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Template

from improve import clock, framework
from improve.errors import Invalid
from improve.monitoring import domain as monitoring
from improve.web.auth import CurrentViewer
from improve.web.forms import form_dict
from improve.web.params import Id

FINDING_ROWS = 3


def _labels() -> dict[str, Any]:
    fw = framework.get("saf")
    return {
        "VISIT_KINDS": monitoring.VISIT_KINDS,
        "OUTCOMES": monitoring.OUTCOMES,
        "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        "REGULATIONS": [(k, f"{k}: {r.title}") for k, r in fw.regulations.items()],
        "STATEMENTS": [(i.id, i.title) for i in fw.items.values()],
        "finding_rows": range(1, FINDING_ROWS + 1),
    }


async def _page(viewer, service_id: int, status: int = 200, **extra) -> Template:
    page = await monitoring.monitoring_page(viewer, service_id)
    return Template(
        "monitoring/service.html",
        context={
            "viewer": viewer,
            **page,
            "today": clock.today(),
            "level_options": [(lv["id"], lv["name"]) for lv in page["levels"]],
            "values": extra.pop("values", {}),
            "errors": extra.pop("errors", {}),
            **_labels(),
            **extra,
        },
        status_code=status,
    )


@get("/services/{service_id:int}/monitoring", include_in_schema=False)
async def monitoring_page(viewer: CurrentViewer, service_id: Id) -> Template:
    return await _page(viewer, service_id)


@post("/services/{service_id:int}/monitoring/level", include_in_schema=False)
async def set_level(request: Request, viewer: CurrentViewer, service_id: Id) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await monitoring.set_level(viewer, service_id, data)
    except Invalid as exc:
        return await _page(viewer, service_id, 400, values=data, errors=exc.errors)
    return Redirect(f"/services/{service_id}/monitoring?saved=level", status_code=303)


def _findings(form: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for n in range(1, FINDING_ROWS + 1):
        text = str(form.get(f"finding_{n}_description") or "").strip()
        if text:
            statement = form.get(f"finding_{n}_item") or ""
            out.append(
                {
                    "regulation": form.get(f"finding_{n}_regulation"),
                    "key_question": form.get(f"finding_{n}_key_question"),
                    "items": [statement] if statement else [],
                    "description": text,
                    "severity": form.get(f"finding_{n}_severity") or "high",
                }
            )
    return out


@post("/services/{service_id:int}/monitoring/visits", include_in_schema=False)
async def record_visit(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    data = await form_dict(request)
    try:
        saved = await monitoring.record_visit(
            viewer, service_id, {**data, "findings": _findings(data)}
        )
    except Invalid as exc:
        errors = {
            k.replace("findings[", "finding ").replace("].", " "): v for k, v in exc.errors.items()
        }
        return await _page(viewer, service_id, 400, values=data, errors=errors)
    if saved["case_id"]:
        return Redirect(f"/cases/{saved['case_id']}", status_code=303)
    return Redirect(f"/services/{service_id}/monitoring?saved=visit", status_code=303)


async def _levels_page(viewer, status: int = 200, **extra) -> Template:
    return Template(
        "monitoring/levels.html",
        context={
            "viewer": viewer,
            "levels": await monitoring.levels_page(viewer),
            "defaults": monitoring.DEFAULT_LEVELS,
            "values": extra.pop("values", {}),
            "errors": extra.pop("errors", {}),
        },
        status_code=status,
    )


@get("/monitoring/levels", include_in_schema=False)
async def levels_page(viewer: CurrentViewer) -> Template:
    return await _levels_page(viewer)


@post("/monitoring/levels", include_in_schema=False)
async def add_level(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await monitoring.add_level(viewer, data)
    except Invalid as exc:
        return await _levels_page(viewer, 400, values=data, errors=exc.errors)
    return Redirect("/monitoring/levels", status_code=303)


@post("/monitoring/levels/defaults", include_in_schema=False)
async def add_default_levels(viewer: CurrentViewer) -> Redirect:
    await monitoring.add_default_levels(viewer)
    return Redirect("/monitoring/levels", status_code=303)


PAGE_ROUTES = [
    monitoring_page,
    set_level,
    record_visit,
    levels_page,
    add_level,
    add_default_levels,
]
