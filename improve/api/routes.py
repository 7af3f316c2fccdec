"""JSON API v1. Bearer tokens only (no cookies, so no CSRF); thin over the domain."""

from __future__ import annotations

import msgspec
from litestar import Router, get, patch, post, put
from litestar.params import FromQuery, JSONBody

from improve import access
from improve.accounts import people
from improve.api import cases as case_api
from improve.api import plans as plan_api
from improve.api import portfolio as portfolio_api
from improve.api.documented import ERRORS, WRITE_ERRORS
from improve.api.schemas import (
    Me,
    OrganisationIn,
    OrganisationOut,
    ServiceAdmin,
    ServiceIn,
    ServiceOut,
    ServicePatch,
    UserIn,
    UserOut,
)
from improve.errors import Invalid
from improve.evidence import routes as evidence_routes
from improve.reminders import routes as reminder_routes
from improve.reviews import routes as review_routes
from improve.services import domain as services
from improve.web.auth import CurrentViewer
from improve.web.params import Id, Limit, Offset


@get("/me", summary="The user the token belongs to", raises=ERRORS)
async def me(viewer: CurrentViewer) -> Me:
    return Me(
        id=viewer.user_id,
        email=viewer.email,
        name=viewer.name,
        role=viewer.role,
        organisation_id=viewer.organisation_id,
        organisation_name=viewer.organisation_name,
        organisation_kind=viewer.organisation_kind,
    )


class ServicePage(msgspec.Struct):
    items: list[ServiceOut]
    total: int
    limit: int
    offset: int


@get("/services", summary="Services in the caller's scope (name order), filtered", raises=ERRORS)
async def list_services(
    viewer: CurrentViewer,
    rating: FromQuery[str] = "",
    stage: FromQuery[str] = "",
    local_authority: FromQuery[str] = "",
    overdue: FromQuery[bool] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ServicePage:
    filters = services.ServiceFilters(rating, stage, local_authority, overdue)
    rows = await services.overview(viewer, filters)
    return ServicePage(
        [ServiceOut.of(r) for r in rows[offset : offset + limit]], len(rows), limit, offset
    )


@get("/services/{service_id:int}", summary="One service", raises=ERRORS)
async def get_service(viewer: CurrentViewer, service_id: Id) -> ServiceOut:
    return ServiceOut.of(await services.detail(viewer, service_id))


@patch("/services/{service_id:int}", summary="Change a service's details", raises=WRITE_ERRORS)
async def patch_service(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[ServicePatch]
) -> ServiceOut:
    return ServiceOut.of(await services.update_details(viewer, service_id, data.changes()))


@post("/services", summary="Create a service (administrators)", raises=WRITE_ERRORS)
async def create_service(viewer: CurrentViewer, data: JSONBody[ServiceIn]) -> ServiceOut:
    row = await services.create(viewer, {f: getattr(data, f) for f in data.__struct_fields__})
    return ServiceOut.of(row)


@put(
    "/services/{service_id:int}/administration",
    summary="Set a service's provider, manager and commissioners (administrators)",
    raises=WRITE_ERRORS,
)
async def administer_service(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[ServiceAdmin]
) -> ServiceOut:
    row = await services.administer(
        viewer,
        service_id,
        {"provider": data.provider, "manager": data.manager, "commissioners": data.commissioners},
    )
    return ServiceOut.of(row)


@get("/organisations", summary="All organisations (administrators)", raises=WRITE_ERRORS)
async def list_organisations(viewer: CurrentViewer) -> list[OrganisationOut]:
    access.require_admin(viewer)
    return [OrganisationOut(**row) for row in await people.list_organisations()]


@post("/organisations", summary="Create an organisation (administrators)", raises=WRITE_ERRORS)
async def create_organisation(
    viewer: CurrentViewer, data: JSONBody[OrganisationIn]
) -> OrganisationOut:
    access.require_admin(viewer)
    return OrganisationOut(
        **await people.create_organisation(data.name, data.kind, data.slug, data.cqc_provider_id)
    )


@get("/users", summary="All users (administrators)", raises=WRITE_ERRORS)
async def list_users(viewer: CurrentViewer) -> list[UserOut]:
    access.require_admin(viewer)
    return [UserOut.of(row) for row in await people.list_users()]


@post("/users", summary="Create a user (administrators)", raises=WRITE_ERRORS)
async def create_user(viewer: CurrentViewer, data: JSONBody[UserIn]) -> UserOut:
    access.require_admin(viewer)
    try:
        await people.organisation(data.organisation)
    except Exception:
        raise Invalid({"organisation": "no such organisation"}) from None
    row = await people.create_user(
        email=data.email,
        name=data.name,
        organisation_id=data.organisation,
        role=data.role,
        password=data.password,
    )
    return UserOut.of(row)


router = Router(
    path="/api/v1",
    route_handlers=[
        *case_api.ROUTES,
        *plan_api.ROUTES,
        *portfolio_api.ROUTES,
        *evidence_routes.API_ROUTES,
        *review_routes.API_ROUTES,
        *reminder_routes.API_ROUTES,
        me,
        list_services,
        get_service,
        patch_service,
        create_service,
        administer_service,
        list_organisations,
        create_organisation,
        list_users,
        create_user,
    ],
    security=[{"BearerToken": []}],
    tags=["v1"],
)
