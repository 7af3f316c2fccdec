"""Admin pages. Only administrators reach them (a guard on the router)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from improve.accounts import people
from improve.accounts.tables import OrgKind, Role
from improve.admin import handover
from improve.errors import Invalid
from improve.services import cqc, importer
from improve.services import domain as services
from improve.services.tables import SERVICE_TYPE_LABELS
from improve.web.auth import CurrentViewer
from improve.web.forms import FORM_MAX_BYTES, form_dict
from improve.web.params import Id

MAX_IMPORT = 20 * 1024 * 1024


def admins_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    viewer = connection.scope.get("user")
    if viewer is None:
        raise NotAuthorizedException("Log in first")
    if not viewer.is_admin:
        raise PermissionDeniedException("Only administrators can open the admin pages")


def _page(name: str, viewer: CurrentViewer, status: int = 200, **context: Any) -> Template:
    return Template(f"admin/{name}.html", context={"viewer": viewer, **context}, status_code=status)


@get("/")
async def overview(viewer: CurrentViewer) -> Template:
    orgs = await people.list_organisations()
    return _page(
        "overview",
        viewer,
        organisations=orgs,
        users=await people.list_users(),
        service_counts=await services.count_by_provider(),
    )


# --- organisations -----------------------------------------------------------


async def _orgs_page(
    viewer: CurrentViewer, values: dict, errors: dict, status: int = 200
) -> Template:
    return _page(
        "organisations",
        viewer,
        status,
        organisations=await people.list_organisations(),
        kinds=people.ORG_KIND_LABELS,
        values=values,
        errors=errors,
    )


@get("/organisations")
async def organisations(viewer: CurrentViewer) -> Template:
    return await _orgs_page(viewer, {"kind": OrgKind.PROVIDER}, {})


@post("/organisations")
async def create_organisation(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    try:
        org = await people.create_organisation(
            str(data.get("name", "")), str(data.get("kind", "")), str(data.get("slug", ""))
        )
    except Invalid as exc:
        return await _orgs_page(viewer, data, exc.errors, status=400)
    return Redirect(f"/admin/organisations/{org['id']}", status_code=303)


async def _org_page(
    viewer: CurrentViewer, org_id: int, errors: dict, status: int = 200, values: dict | None = None
) -> Template:
    org = await people.organisation(org_id)
    return _page(
        "organisation",
        viewer,
        status,
        organisation=org,
        users=await people.list_users(org_id),
        errors=errors,
        values={**org, **(values or {})},
    )


@get("/organisations/{org_id:int}")
async def organisation(viewer: CurrentViewer, org_id: Id) -> Template:
    return await _org_page(viewer, org_id, {})


@post("/organisations/{org_id:int}")
async def rename_organisation(
    request: Request, viewer: CurrentViewer, org_id: Id
) -> Template | Redirect:
    data = await form_dict(request)
    try:
        await people.update_organisation(
            org_id,
            str(data.get("name", "")),
            # only when the form has the field: renaming alone keeps the binding
            *([data["cqc_provider_id"]] if "cqc_provider_id" in data else []),
        )
    except Invalid as exc:
        return await _org_page(viewer, org_id, exc.errors, status=400, values=data)
    return Redirect(f"/admin/organisations/{org_id}", status_code=303)


# --- users ---------------------------------------------------------------------


async def _users_page(
    viewer: CurrentViewer, values: dict, errors: dict, status: int = 200
) -> Template:
    return _page(
        "users",
        viewer,
        status,
        users=await people.list_users(),
        organisations=await people.list_organisations(),
        roles=people.ROLE_LABELS,
        values=values,
        errors=errors,
    )


@get("/users")
async def users(viewer: CurrentViewer) -> Template:
    return await _users_page(viewer, {}, {})


@post("/users", request_max_body_size=FORM_MAX_BYTES)
async def create_user(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request)
    try:
        org_id = int(data.get("organisation") or 0)
    except ValueError:
        org_id = 0
    try:
        if not org_id:
            raise Invalid({"organisation": "choose an organisation"})
        user = await people.create_user(
            email=str(data.get("email", "")),
            name=str(data.get("name", "")),
            organisation_id=org_id,
            role=str(data.get("role", "")),
            password=str(data.get("password", "")),
        )
    except Invalid as exc:
        data.pop("password", None)
        return await _users_page(viewer, data, exc.errors, status=400)
    return Redirect(f"/admin/users/{user['id']}", status_code=303)


async def _user_page(
    viewer: CurrentViewer, user_id: int, errors: dict, status: int = 200, **extra: Any
):
    return _page(
        "user",
        viewer,
        status,
        user=await people.user(user_id),
        held=await handover.held_by(user_id),
        roles={r: people.ROLE_LABELS[r] for r in Role},
        errors=errors,
        message=extra.get("message"),
    )


@get("/users/{user_id:int}")
async def user(viewer: CurrentViewer, user_id: Id) -> Template:
    return await _user_page(viewer, user_id, {})


@post("/users/{user_id:int}", request_max_body_size=FORM_MAX_BYTES)
async def update_user(request: Request, viewer: CurrentViewer, user_id: Id) -> Template | Redirect:
    data = await form_dict(request)
    if user_id == viewer.user_id and (data.get("active") != "on" or data.get("role") != Role.ADMIN):
        return await _user_page(
            viewer, user_id, {"role": "you cannot remove your own administrator access"}, 400
        )
    try:
        await people.update_user(
            user_id,
            name=str(data.get("name", "")),
            role=str(data.get("role", "")),
            active=data.get("active") == "on",
        )
    except Invalid as exc:
        return await _user_page(viewer, user_id, exc.errors, 400)
    return Redirect(f"/admin/users/{user_id}", status_code=303)


@post("/users/{user_id:int}/password", request_max_body_size=FORM_MAX_BYTES)
async def reset_password(request: Request, viewer: CurrentViewer, user_id: Id) -> Template:
    data = await form_dict(request)
    try:
        await people.set_password(user_id, str(data.get("password", "")))
    except Invalid as exc:
        return await _user_page(viewer, user_id, exc.errors, 400)
    return await _user_page(
        viewer, user_id, {}, message="Password changed; their sessions and API tokens ended."
    )


# --- services ------------------------------------------------------------------


async def _service_form_context() -> dict[str, Any]:
    return {
        "providers": await people.list_organisations(OrgKind.PROVIDER),
        "commissioner_orgs": await people.list_organisations(OrgKind.COMMISSIONER),
        "managers": await services.managers_by_provider(),
        "service_types": SERVICE_TYPE_LABELS,
    }


async def _services_page(viewer: CurrentViewer, values: dict, errors: dict, status: int = 200):
    return _page(
        "services",
        viewer,
        status,
        services=await services.list_for(viewer),
        values=values,
        errors=errors,
        **await _service_form_context(),
    )


@get("/services")
async def service_list(viewer: CurrentViewer) -> Template:
    return await _services_page(viewer, {"commissioners": []}, {})


@post("/services")
async def create_service(request: Request, viewer: CurrentViewer) -> Template | Redirect:
    data = await form_dict(request, "commissioners")
    try:
        service = await services.create(viewer, data)
    except Invalid as exc:
        return await _services_page(viewer, data, exc.errors, status=400)
    return Redirect(f"/admin/services/{service['id']}", status_code=303)


async def _service_page(
    viewer: CurrentViewer, service_id: int, values: dict | None, errors: dict, status: int = 200
) -> Template:
    service = await services.detail(viewer, service_id)
    if values is None:
        values = dict(service, commissioners=[str(c["id"]) for c in service["commissioners"]])
    return _page(
        "service",
        viewer,
        status,
        service=service,
        values=values,
        errors=errors,
        **await _service_form_context(),
    )


@get("/services/{service_id:int}")
async def service(viewer: CurrentViewer, service_id: Id) -> Template:
    return await _service_page(viewer, service_id, None, {})


@post("/services/{service_id:int}")
async def update_service(
    request: Request, viewer: CurrentViewer, service_id: Id
) -> Template | Redirect:
    data = await form_dict(request, "commissioners")
    try:
        await services.administer(viewer, service_id, data)
    except Invalid as exc:
        return await _service_page(viewer, service_id, data, exc.errors, status=400)
    return Redirect(f"/admin/services/{service_id}", status_code=303)


# --- CQC imports ---------------------------------------------------------------------


async def _imports_page(viewer: CurrentViewer, status: int = 200, **extra: Any) -> Template:
    return _page(
        "imports",
        viewer,
        status,
        providers=await people.list_organisations(OrgKind.PROVIDER),
        errors=extra.get("errors", {}),
        report=extra.get("report"),
    )


@get("/imports")
async def imports(viewer: CurrentViewer) -> Template:
    return await _imports_page(viewer)


@post("/imports")
async def run_import(request: Request, viewer: CurrentViewer) -> Template:
    """Upload CQC location records (JSON) or the CQC care directory (CSV): every record is
    checked first, and a bad file writes nothing."""
    form = await request.form()
    upload = form.get("file")
    kind = form.get("kind", "locations")
    try:
        if upload is None or not hasattr(upload, "read"):
            raise Invalid({"file": "choose a file to import"})
        content = await upload.read(MAX_IMPORT + 1)
        if len(content) > MAX_IMPORT:
            raise Invalid({"file": "is larger than 20 MB"})
        if kind == "directory":
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise Invalid({"file": "is not a UTF-8 CSV file"}) from None
            locations = [row.location for row in cqc.parse_directory(text)]
        else:
            locations = cqc.parse_locations(importer.parse_json_bytes(content))
        provider = str(form.get("provider") or "").strip()
        if provider and not provider.isdigit():
            raise Invalid({"provider": "choose a provider from the list, or Match automatically"})
        report = await importer.import_locations(
            viewer,
            locations,
            provider_id=int(provider) if provider else None,
            create_providers=kind == "directory",
            provider_field="provider",
        )
    except Invalid as exc:
        return await _imports_page(viewer, importer.page_status(exc), errors=exc.errors)
    return await _imports_page(viewer, report=report)


# --- outbox --------------------------------------------------------------------------


@get("/outbox")
async def outbox_page(viewer: CurrentViewer, status: FromQuery[str] = "") -> Template:
    from improve.reminders import outbox

    return _page("outbox", viewer, **await outbox.overview(status), filter_status=status)


@post("/outbox/{message_id:int}/retry")
async def retry_message(viewer: CurrentViewer, message_id: Id) -> Redirect:
    from improve.errors import NotFound
    from improve.reminders import outbox
    from improve.reminders.tables import Outbox

    if not await outbox.retry(message_id) and not await Outbox.exists().where(
        Outbox.id == message_id
    ):
        raise NotFound("No such message")
    return Redirect("/admin/outbox?status=failed", status_code=303)


router = Router(
    path="/admin",
    guards=[admins_only],
    include_in_schema=False,
    route_handlers=[
        overview,
        organisations,
        create_organisation,
        organisation,
        rename_organisation,
        users,
        create_user,
        user,
        update_user,
        reset_password,
        service_list,
        create_service,
        service,
        update_service,
        imports,
        run_import,
        outbox_page,
        retry_message,
    ],
)
