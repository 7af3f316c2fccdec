"""Writing CQC records into services and ratings: all of a file or none of it.

Re-importing the same record changes nothing (fields are compared; ratings are unique
per service and date). A new rating on a service with an open case moves the case on,
by the same rule as a rating typed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from improve import access, clock, history
from improve.access import Viewer
from improve.accounts import people
from improve.accounts.tables import Organisation, OrgKind, Role
from improve.db import write_tx
from improve.errors import Forbidden, Invalid
from improve.services import ratings
from improve.services.cqc import ImportProblem, Location
from improve.services.tables import Service

COMPARED = (
    "name",
    "service_type",
    "beds",
    "local_authority",
    "cqc_location_id",
    "cqc_provider_id",
    "registered_manager_name",
    "address",
    "postcode",
)


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ratings_added: int = 0
    notes: list[str] = field(default_factory=list)
    service_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{self.ratings_added} ratings added",
        ]
        return ", ".join(parts)


async def import_locations(
    viewer: Viewer,
    locations: list[Location],
    *,
    provider_id: int | None = None,
    service_id: int | None = None,
    create_providers: bool = False,
) -> ImportReport:
    """Create or update services from parsed CQC records, in one transaction."""
    if viewer.role == Role.COMMISSIONER:
        raise Forbidden("Commissioners cannot import into a provider's services")
    report = ImportReport()
    async with write_tx():
        known = await _services_by_location([loc.location_id for loc in locations])
        for location in locations:
            target = await _target(
                viewer, location, known, provider_id, service_id, create_providers
            )
            await _apply(viewer, location, target, report)
    return report


async def _services_by_location(ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = (
        await Service.select(
            Service.id, Service.provider, *[getattr(Service, c) for c in COMPARED]
        ).where(Service.cqc_location_id.is_in(ids))
        if ids
        else []
    )
    return {r["cqc_location_id"]: r for r in rows}


async def _target(
    viewer: Viewer,
    location: Location,
    known: dict[str, dict[str, Any]],
    provider_id: int | None,
    service_id: int | None,
    create_providers: bool,
) -> dict[str, Any]:
    where = f"location {location.location_id}"
    if service_id is not None:
        row = await access.editable_service(
            viewer,
            service_id,
            Service.id,
            Service.provider,
            *[getattr(Service, c) for c in COMPARED],
        )
        if row["cqc_location_id"] and row["cqc_location_id"] != location.location_id:
            raise ImportProblem(
                {where: f"is not this service's CQC location ({row['cqc_location_id']})"}
            )
        other = known.get(location.location_id)
        if other and other["id"] != service_id:
            raise ImportProblem({where: "already belongs to another service"})
        return row
    if location.location_id in known:
        row = known[location.location_id]
        await access.editable_service(viewer, row["id"], Service.id)
        return row
    provider = await _provider_for(viewer, location, provider_id, create_providers)
    return {"id": None, "provider": provider}


async def _provider_for(
    viewer: Viewer, location: Location, provider_id: int | None, create: bool
) -> int:
    where = f"location {location.location_id}"
    if viewer.role == Role.QUALITY_LEAD:
        return viewer.organisation_id  # quality leads import into their own provider
    if viewer.role != Role.ADMIN:
        raise ImportProblem(
            {where: "is not one of your services; ask an administrator to import new services"}
        )
    if provider_id:
        return provider_id
    same = (
        await Service.select(Service.provider)
        .where(Service.cqc_provider_id == location.provider_id)
        .first()
    )
    if same:
        return same["provider"]
    if location.provider_name:
        org = (
            await Organisation.select(Organisation.id)
            .where(
                (Organisation.name == location.provider_name)
                & (Organisation.kind == OrgKind.PROVIDER)
            )
            .first()
        )
        if org:
            return org["id"]
        if create:
            return (await people.create_organisation(location.provider_name, "provider"))["id"]
    raise ImportProblem(
        {
            where: f"no provider organisation for CQC provider "
            f"{location.provider_id}: choose the provider"
        }
    )


async def _apply(
    viewer: Viewer, location: Location, target: dict[str, Any], report: ImportReport
) -> None:
    from improve.cases import domain as cases

    fields = location.service_fields()
    if target["id"] is None:
        rows = await Service.insert(
            Service(provider=target["provider"], created_at=clock.now(), **fields)
        ).returning(Service.id)
        service_id = rows[0]["id"]
        report.created.append(location.name)
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=None,
            entity="service",
            entity_id=service_id,
            action="imported",
            summary=f"Created from CQC record {location.location_id}",
            after=fields,
        )
    else:
        service_id = target["id"]
        before, after = history.changed({k: target.get(k) for k in fields}, fields)
        if after:
            await Service.update({getattr(Service, k): v for k, v in after.items()}).where(
                Service.id == service_id
            )
            await history.record(
                actor=viewer,
                service_id=service_id,
                case_id=None,
                entity="service",
                entity_id=service_id,
                action="imported",
                summary=f"Updated from CQC record {location.location_id}",
                before=before,
                after=after,
            )
    added = 0
    for rating in location.ratings:
        _, created = await ratings.store(viewer, service_id, rating)
        if created:
            added += 1
            case = await cases.open_case_for(service_id)
            if case and case["published_on"] and rating.published_on > case["published_on"]:
                note = await cases._apply_rating(viewer, case, rating)
                if note:
                    report.notes.append(f"{location.name}: {note}")
    report.ratings_added += added
    if target["id"] is not None:
        (report.updated if (after or added) else report.unchanged).append(location.name)
    report.notes.extend(f"{location.name}: {n}" for n in location.notes)
    report.service_ids.append(service_id)


def parse_json_bytes(content: bytes) -> Any:
    from improve.web.bodies import load_json

    try:
        return load_json(content.decode("utf-8-sig"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Invalid({"file": f"is not JSON ({exc})"}) from None
