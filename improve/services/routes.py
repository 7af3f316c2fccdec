"""Pages: the home page (services in scope, filtered) and each service with its ratings,
cases, CQC import and rating form."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from improve import access, framework
from improve.cases import domain as cases
from improve.cases.stages import STAGE_LABELS, Stage
from improve.errors import FieldForbidden, Invalid
from improve.services import cqc, domain, importer, ratings
from improve.services.tables import (
    ENFORCEMENT_LABELS,
    RATING_LABELS,
    SERVICE_TYPE_LABELS,
    EnforcementKind,
)
from improve.web.auth import CurrentViewer
from improve.web.forms import form_dict
from improve.web.params import Id

MAX_UPLOAD = 5 * 1024 * 1024
RATING_CHOICES = [(k, v) for k, v in RATING_LABELS.items() if k]


@get("/", include_in_schema=False)
async def home(
    viewer: CurrentViewer,
    rating: FromQuery[str] = "",
    stage: FromQuery[str] = "",
    local_authority: FromQuery[str] = "",
    overdue: FromQuery[str] = "",
) -> Template:
    filters = domain.ServiceFilters(
        rating=rating, stage=stage, local_authority=local_authority, overdue=overdue == "1"
    )
    return Template(
        "services/home.html",
        context={
            "viewer": viewer,
            "services": await domain.overview(viewer, filters),
            "filters": filters,
            "rating_choices": RATING_CHOICES,
            "stage_choices": [
                ("none", "No open case"),
                *[(s.value, STAGE_LABELS[s]) for s in Stage if s != Stage.CLOSED],
            ],
            "local_authorities": await domain.local_authorities(viewer),
            "RATING_LABELS": RATING_LABELS,
            "STAGE_LABELS": STAGE_LABELS,
        },
    )


async def _service_page(viewer, service_id: int, status: int = 200, **extra: Any) -> Template:
    service = await domain.detail(viewer, service_id)
    history = await ratings.for_service(viewer, service_id)
    all_cases = await cases.cases_of_service(viewer, service_id)
    open_case = next((c for c in all_cases if c["stage"] != Stage.CLOSED), None)
    # the latest rating that opens a case: the location's own or one service type's
    opening = cases.rating_to_open(history)
    can_open = bool(viewer.can_edit_services and opening and open_case is None)
    context = {
        "viewer": viewer,
        "service": service,
        "ratings": history,
        "open_case": open_case,
        "past_cases": [c for c in all_cases if c["stage"] == Stage.CLOSED],
        "can_open_case": can_open,
        "opening_rating": opening,
        "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        "RATING_LABELS": RATING_LABELS,
        "STAGE_LABELS": STAGE_LABELS,
        "import_errors": {},
        "import_report": None,
        "message": None,
    }
    context.update(extra)
    return Template("services/service.html", context=context, status_code=status)


@get("/services/{service_id:int}", include_in_schema=False)
async def service_page(viewer: CurrentViewer, service_id: Id) -> Template:
    return await _service_page(viewer, service_id)


def _edit_page(viewer, service: dict, values: dict, errors: dict, status: int = 200):
    return Template(
        "services/edit.html",
        context={
            "viewer": viewer,
            "service": service,
            "values": values,
            "errors": errors,
            "service_types": SERVICE_TYPE_LABELS,
        },
        status_code=status,
    )


@get("/services/{service_id:int}/edit", include_in_schema=False)
async def edit_form(viewer: CurrentViewer, service_id: Id) -> Template:
    await access.editable_service(viewer, service_id)
    service = await domain.detail(viewer, service_id)
    return _edit_page(viewer, service, service, {})


@post("/services/{service_id:int}/edit", include_in_schema=False)
async def edit_submit(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    await access.editable_service(viewer, service_id)
    data = await form_dict(request)
    try:
        await domain.update_details(viewer, service_id, data)
    except Invalid as exc:
        service = await domain.detail(viewer, service_id)
        status = exc.status_code if isinstance(exc, FieldForbidden) else 400
        return _edit_page(viewer, service, data, exc.errors, status=status)
    return Redirect(f"/services/{service_id}", status_code=303)


def _rating_page(viewer, service: dict, values: dict, errors: dict, status: int = 200):
    return Template(
        "services/rating_form.html",
        context={
            "viewer": viewer,
            "service": service,
            "values": values,
            "errors": errors,
            "rating_choices": RATING_CHOICES,
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "enforcement_kinds": [
                (k.value, ENFORCEMENT_LABELS[k])
                for k in EnforcementKind
                if k != EnforcementKind.SPECIAL_MEASURES
            ],
            "regulations": list(framework.in_force().regulations.values()),
        },
        status_code=status,
    )


@get("/services/{service_id:int}/ratings/new", include_in_schema=False)
async def rating_form(viewer: CurrentViewer, service_id: Id) -> Template:
    await access.editable_service(viewer, service_id)
    return _rating_page(viewer, await domain.detail(viewer, service_id), {}, {})


def _enforcement_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for n in (1, 2, 3):
        kind = data.get(f"enforcement_{n}_kind")
        if kind:
            rows.append(
                {
                    "kind": kind,
                    "regulation": data.get(f"enforcement_{n}_regulation"),
                    "compliance_due_on": data.get(f"enforcement_{n}_due"),
                    "description": data.get(f"enforcement_{n}_description"),
                }
            )
    return rows


@post("/services/{service_id:int}/ratings/new", include_in_schema=False)
async def rating_submit(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    await access.editable_service(viewer, service_id)
    data = await form_dict(request)
    try:
        _, created, note = await cases.record_rating(
            viewer, service_id, {**data, "enforcement": _enforcement_rows(data)}
        )
    except Invalid as exc:
        service = await domain.detail(viewer, service_id)
        errors = {
            k.replace("enforcement[", "enforcement_")
            .replace("].", "_")
            .replace("compliance_due_on", "due"): v
            for k, v in exc.errors.items()
        }
        return _rating_page(viewer, service, data, errors, status=400)
    message = note or ("Rating recorded." if created else "")
    return await _service_page(viewer, service_id, message=message)


@post("/services/{service_id:int}/import", include_in_schema=False)
async def import_record(request: Request, viewer: CurrentViewer, service_id: Id) -> Template:
    """Upload a CQC location record (the JSON the CQC API returns) for this service."""
    await access.editable_service(viewer, service_id)
    form = await request.form()
    upload = form.get("file")
    try:
        if upload is None or not hasattr(upload, "read"):
            raise Invalid({"file": "choose the CQC location record (a .json file)"})
        content = await upload.read(MAX_UPLOAD + 1)
        if len(content) > MAX_UPLOAD:
            raise Invalid({"file": "is larger than 5 MB"})
        locations = cqc.parse_locations(importer.parse_json_bytes(content))
        if len(locations) != 1:
            raise Invalid(
                {"file": "holds several records: import them from the command line or the API"}
            )
        report = await importer.import_locations(viewer, locations, service_id=service_id)
    except Invalid as exc:
        return await _service_page(
            viewer, service_id, status=importer.page_status(exc), import_errors=exc.errors
        )
    return await _service_page(viewer, service_id, import_report=report)


@post("/services/{service_id:int}/cases", include_in_schema=False)
async def open_case(viewer: CurrentViewer, service_id: Id) -> Template | Redirect:
    try:
        case = await cases.open_case(viewer, service_id)
    except Invalid as exc:
        return await _service_page(
            viewer, service_id, status=400, message=" ".join(exc.errors.values())
        )
    return Redirect(f"/cases/{case['id']}", status_code=303)


ROUTES = [
    home,
    service_page,
    edit_form,
    edit_submit,
    rating_form,
    rating_submit,
    import_record,
    open_case,
]
