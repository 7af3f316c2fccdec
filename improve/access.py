"""Who may see and change what. Every query for services and their children goes
through here, so the access rule lives in one place.

- admin: every service (operates the installation);
- quality lead: every service of their provider;
- registered manager: the services they manage;
- commissioner: the services their organisation commissions; read, comment and
  record reviews, never edit a provider's plan.

Out of scope answers "not found", never "forbidden", so existence is not revealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import Where, WhereRaw

from improve.accounts.tables import OrgKind, Role
from improve.errors import Forbidden, NotFound
from improve.services.tables import Commissioning, Service


@dataclass(frozen=True)
class Viewer:
    user_id: int
    email: str
    name: str
    role: Role
    organisation_id: int
    organisation_name: str
    organisation_kind: OrgKind

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def can_edit_services(self) -> bool:
        """Commissioners monitor; they never edit a provider's service or plan."""
        return self.role != Role.COMMISSIONER


VIEWER_FIELDS = (
    "id",
    "email",
    "name",
    "role",
    "organisation",
    "organisation_name",
    "organisation_kind",
)


def viewer_columns(user: Any) -> tuple[Column, ...]:
    """The columns a Viewer is made from, read through ``user``: the User table itself or
    a foreign key to it (``UserSession.user``), so one query finds the person."""
    organisation = user.organisation
    return (
        user.id.as_alias("id"),
        user.email.as_alias("email"),
        user.name.as_alias("name"),
        user.role.as_alias("role"),
        organisation.as_alias("organisation"),
        organisation.name.as_alias("organisation_name"),
        organisation.kind.as_alias("organisation_kind"),
    )


def viewer_from_row(row: dict[str, Any]) -> Viewer:
    return Viewer(
        user_id=row["id"],
        email=row["email"],
        name=row["name"],
        role=Role(row["role"]),
        organisation_id=row["organisation"],
        organisation_name=row["organisation_name"],
        organisation_kind=OrgKind(row["organisation_kind"]),
    )


def service_filter(viewer: Viewer) -> Where | WhereRaw:
    """The WHERE clause that limits Service rows to the viewer's scope."""
    if viewer.role == Role.ADMIN:
        return WhereRaw("1 = 1")
    if viewer.role == Role.QUALITY_LEAD:
        return Service.provider == viewer.organisation_id
    if viewer.role == Role.REGISTERED_MANAGER:
        return Service.manager == viewer.user_id
    if viewer.role == Role.COMMISSIONER:
        return Service.id.is_in(
            Commissioning.select(Commissioning.service).where(
                Commissioning.commissioner == viewer.organisation_id
            )
        )
    return WhereRaw("1 = 0")  # an unknown role sees nothing


def scope_key(viewer: Viewer) -> tuple[str, int]:
    """Equal for viewers whom ``service_filter`` gives the same services (and, for
    commissioners, the same organisation's monitoring): a view kept for one of them
    may be served to the others (improve.snapshots)."""
    if viewer.role == Role.REGISTERED_MANAGER:
        return (viewer.role.value, viewer.user_id)
    return (viewer.role.value, viewer.organisation_id)


def visible_service_ids(viewer: Viewer):
    """A sub-select of the viewer's service ids, for scoping child tables:
    ``Case.service.is_in(visible_service_ids(viewer))``."""
    return Service.select(Service.id).where(service_filter(viewer))


def services(viewer: Viewer, *columns: Column):
    """Service rows in the viewer's scope."""
    return Service.select(*columns).where(service_filter(viewer))


async def service_or_404(viewer: Viewer, service_id: int, *columns: Column) -> dict[str, Any]:
    row = await services(viewer, *columns).where(Service.id == service_id).first()
    if row is None:
        raise NotFound("No such service")
    return row


async def editable_service(viewer: Viewer, service_id: int, *columns: Column) -> dict[str, Any]:
    """The service if the viewer may change it: 404 out of scope, 403 read-only."""
    row = await service_or_404(viewer, service_id, *columns)
    if not viewer.can_edit_services:
        raise Forbidden("Commissioners can view this service but not change it")
    return row


def require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("Only administrators can do this")
