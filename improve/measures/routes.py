"""Pages for measures: a service's run charts with the form to enter a month's figure,
and the organisation's measures with the CSV upload and its own measure definitions."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.response import Redirect, Response, Template

from improve import clock
from improve.errors import Forbidden, Invalid
from improve.measures import catalog, runchart
from improve.measures import domain as measures
from improve.web.auth import CurrentViewer
from improve.web.downloads import csv_download
from improve.web.forms import form_dict
from improve.web.params import Id
from improve.words import counted

MAX_UPLOAD = 5 * 1024 * 1024


def _charts(page: dict[str, Any]) -> list[dict[str, Any]]:
    """SVG and words for each measure that has figures."""
    out = []
    for item in page["items"]:
        m, rc = item["measure"], item["chart"]
        if not rc.points:
            continue
        out.append(
            {
                **item,
                "svg": runchart.render_svg(
                    rc,
                    title=m.name,
                    unit=m.unit,
                    markers=item["markers"],
                    id_prefix=f"rc-{m.key.replace('_', '-')}",
                ),
                "text": runchart.describe(rc, m.name, m.unit),
            }
        )
    return out


async def _measures_page(viewer, service_id: int, status: int = 200, **extra) -> Template:
    page = await measures.service_measures(viewer, service_id)
    return Template(
        "measures/service.html",
        context={
            "viewer": viewer,
            **page,
            "charts": _charts(page),
            "measure_options": [(i["measure"].key, i["measure"].name) for i in page["items"]],
            "empty": [i["measure"] for i in page["items"] if not i["chart"].points],
            "this_month": clock.today().strftime("%Y-%m"),
            "values": extra.pop("values", {}),
            "errors": extra.pop("errors", {}),
            "month_name": runchart.month_name,
            **extra,
        },
        status_code=status,
    )


@get("/services/{service_id:int}/measures", include_in_schema=False)
async def service_measures(viewer: CurrentViewer, service_id: Id) -> Template:
    return await _measures_page(viewer, service_id)


@post("/services/{service_id:int}/measures", include_in_schema=False)
async def record_measure(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    data = await form_dict(request)
    try:
        saved = await measures.record(
            viewer, service_id, data.get("measure"), data.get("month"), data.get("value")
        )
    except Invalid as exc:
        return await _measures_page(viewer, service_id, 400, values=data, errors=exc.errors)
    return Redirect(
        f"/services/{service_id}/measures?saved={saved['measure']}#m-{saved['measure']}",
        status_code=303,
    )


async def _org_page(viewer, status: int = 200, **extra) -> Template:
    definitions = await measures.definitions_of({viewer.organisation_id})
    return Template(
        "measures/organisation.html",
        context={
            "viewer": viewer,
            "built_in": catalog.BUILT_IN,
            "custom": definitions[viewer.organisation_id],
            "header": ",".join(measures.CSV_HEADER),
            "values": extra.pop("values", {}),
            "errors": extra.pop("errors", {}),
            "row_errors": extra.pop("row_errors", []),
            "message": extra.pop("message", ""),
            **extra,
        },
        status_code=status,
    )


@get("/measures", include_in_schema=False)
async def organisation_measures(viewer: CurrentViewer) -> Template:
    return await _org_page(viewer)


@post("/measures/upload", include_in_schema=False)
async def upload_measures(request: Request, viewer: CurrentViewer) -> Template:
    if not viewer.can_edit_services:
        raise Forbidden("Commissioners can view measures but not upload them")
    form = await request.form()
    upload = form.get("file")
    if upload is None or not hasattr(upload, "read"):
        return await _org_page(viewer, 400, errors={"file": "choose a CSV file"})
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return await _org_page(viewer, 400, errors={"file": "is larger than 5 MB"})
    try:
        result = await measures.upload_csv(viewer, upload.filename or "measures.csv", content)
    except measures.CsvRefused as exc:
        return await _org_page(viewer, 400, errors=exc.errors, row_errors=exc.rows)
    except Invalid as exc:
        return await _org_page(viewer, 400, errors=exc.errors)
    return await _org_page(
        viewer,
        message=f"{counted(result['rows'], 'figure')} saved for "
        f"{counted(result['services'], 'service')}.",
    )


@post("/measures/definitions", include_in_schema=False)
async def define_measure(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await measures.define(viewer, data)
    except Invalid as exc:
        return await _org_page(viewer, 400, values=data, errors=exc.errors)
    return Redirect("/measures#custom", status_code=303)


@get("/measures/example.csv", include_in_schema=False)
async def example_csv(viewer: CurrentViewer) -> Response:
    del viewer  # logged in only; the file holds no data
    body = ",".join(measures.CSV_HEADER) + "\n1-000000001,2026-01,staff_turnover,31.5\n"
    return csv_download(body, "measures-example.csv")


PAGE_ROUTES = [
    service_measures,
    record_measure,
    organisation_measures,
    upload_measures,
    define_measure,
    example_csv,
]
