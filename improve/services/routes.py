"""Pages: the home page (services in the viewer's scope) and each service."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from improve import access
from improve.errors import Invalid
from improve.services import domain
from improve.services.tables import SERVICE_TYPE_LABELS
from improve.web.auth import CurrentViewer
from improve.web.forms import form_dict


@get("/", include_in_schema=False)
async def home(viewer: CurrentViewer) -> Template:
    return Template(
        "services/home.html",
        context={"viewer": viewer, "services": await domain.list_for(viewer)},
    )


@get("/services/{service_id:int}", include_in_schema=False)
async def service_page(viewer: CurrentViewer, service_id: FromPath[int]) -> Template:
    return Template(
        "services/service.html",
        context={"viewer": viewer, "service": await domain.detail(viewer, service_id)},
    )


def _edit_page(viewer: CurrentViewer, service: dict, values: dict, errors: dict, status: int = 200):
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
async def edit_form(viewer: CurrentViewer, service_id: FromPath[int]) -> Template:

    await access.editable_service(viewer, service_id)
    service = await domain.detail(viewer, service_id)
    return _edit_page(viewer, service, service, {})


@post("/services/{service_id:int}/edit", include_in_schema=False)
async def edit_submit(
    request: Request, viewer: CurrentViewer, service_id: FromPath[int]
) -> Template | Redirect:

    await access.editable_service(viewer, service_id)
    data = await form_dict(request)
    try:
        await domain.update_details(viewer, service_id, data)
    except Invalid as exc:
        service = await domain.detail(viewer, service_id)
        return _edit_page(viewer, service, data, exc.errors, status=400)
    return Redirect(f"/services/{service_id}", status_code=303)


ROUTES = [home, service_page, edit_form, edit_submit]
