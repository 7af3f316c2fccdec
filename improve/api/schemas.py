"""Request and response bodies of the JSON API (msgspec Structs, documented in /schema)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from improve.accounts.passwords import MAX_LENGTH as PASSWORD_MAX_LENGTH
from improve.accounts.tables import OrgKind, Role
from improve.services.domain import manager_has_left
from improve.services.tables import ServiceType

Name = Annotated[str, Meta(min_length=1, max_length=200)]


class Me(msgspec.Struct):
    id: int
    email: str
    name: str
    role: Role
    organisation_id: int
    organisation_name: str
    organisation_kind: OrgKind


class OrgRef(msgspec.Struct):
    id: int
    name: str


class ServiceOut(msgspec.Struct):
    id: int
    name: str
    service_type: ServiceType
    local_authority: str
    beds: int | None
    provider: OrgRef
    manager_id: int | None
    manager_name: str | None
    commissioners: list[OrgRef]
    cqc_location_id: str | None = None
    latest_rating: str | None = None
    latest_rating_published_on: str | None = None
    open_case_id: int | None = None
    open_case_stage: str | None = None
    manager_left: bool = False  # the registered manager's account is inactive
    # from CQC's record: no registered manager since (registeredManagerAbsentDate), and
    # the visit of an inspection whose report is not yet published (unpublishedReports)
    cqc_manager_absent_since: date | None = None
    cqc_unpublished_visit_on: date | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ServiceOut:
        return cls(
            id=row["id"],
            name=row["name"],
            service_type=ServiceType(row["service_type"]),
            local_authority=row["local_authority"],
            beds=row["beds"],
            provider=OrgRef(id=row["provider"], name=row["provider_name"]),
            manager_id=row["manager"],
            manager_name=row["manager_name"],
            commissioners=[OrgRef(id=c["id"], name=c["name"]) for c in row["commissioners"]],
            cqc_location_id=row.get("cqc_location_id"),
            latest_rating=(row.get("latest_rating") or {}).get("overall"),
            latest_rating_published_on=str(row["latest_rating"]["published_on"])
            if row.get("latest_rating")
            else None,
            open_case_id=(row.get("open_case") or {}).get("id"),
            open_case_stage=(row.get("open_case") or {}).get("stage"),
            manager_left=manager_has_left(row),
            cqc_manager_absent_since=row.get("cqc_manager_absent_since"),
            cqc_unpublished_visit_on=row.get("cqc_unpublished_visit_on"),
        )


class ServicePatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    cqc_location_id: str | None | msgspec.UnsetType = msgspec.UNSET
    service_type: ServiceType | msgspec.UnsetType = msgspec.UNSET
    local_authority: Annotated[str, Meta(max_length=120)] | msgspec.UnsetType = msgspec.UNSET
    beds: Annotated[int, Meta(ge=0, le=2000)] | None | msgspec.UnsetType = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        return {
            f: getattr(self, f)
            for f in self.__struct_fields__
            if getattr(self, f) is not msgspec.UNSET
        }


class ServiceIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    provider: int
    service_type: ServiceType = ServiceType.CARE_HOME
    local_authority: Annotated[str, Meta(max_length=120)] = ""
    beds: Annotated[int, Meta(ge=0, le=2000)] | None = None
    manager: int | None = None
    commissioners: list[int] = []


class ServiceAdmin(msgspec.Struct, forbid_unknown_fields=True):
    provider: int
    manager: int | None = None
    commissioners: list[int] = []


class OrganisationOut(msgspec.Struct):
    id: int
    name: str
    slug: str
    kind: OrgKind
    # the CQC provider id an administrator bound to this provider (null: not bound)
    cqc_provider_id: str | None = None


class OrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    kind: OrgKind
    slug: Annotated[str, Meta(max_length=80)] = ""
    # providers only: binds the organisation to its CQC provider id ("1-" and digits)
    cqc_provider_id: Annotated[str, Meta(max_length=20)] | None = None


class UserOut(msgspec.Struct):
    id: int
    email: str
    name: str
    role: Role
    active: bool
    organisation_id: int
    organisation_name: str
    last_login_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> UserOut:
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            role=Role(row["role"]),
            active=row["active"],
            organisation_id=row["organisation"],
            organisation_name=row["organisation_name"],
            last_login_at=row["last_login_at"],
        )


class UserIn(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=3, max_length=254)]
    name: Name
    organisation: int
    role: Role
    password: Annotated[str, Meta(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
