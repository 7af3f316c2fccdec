"""Writing CQC records into services and ratings: all of a file or none of it.

Re-importing the same record changes nothing (fields are compared; ratings are unique
per service, date and service type). A new rating on a service with an open case moves
the case on, by the same rule as a rating typed in, when it is of what the case opened
from: the location's own rating, or the same service type (cases.moves_case_on). What
only CQC's API says (no registered manager since, an unpublished report) is written from
its records, and left as it is by the care directory.

Who may write what, so that no organisation's services can be captured:

- Only the administrator (Admin › Import from CQC, the API with an administrator's
  token, `improve import-cqc`) creates a service from a record, links a service to a CQC
  location, moves a location between organisations, or binds a CQC provider id to an
  organisation (`Organisation.cqc_provider_id`: the only thing "match automatically"
  trusts; a service's own `cqc_provider_id` is what its record said, nothing more).
- Providers' own imports (quality leads, managers: the service page, the API) only
  update a location one of their services already holds, and never write the service's
  CQC provider id. A record whose provider id is bound to another organisation, differs
  from their organisation's bound one or from the one their service has, is refused.
- A record for a location another organisation holds is refused naming the holder; so is,
  on a service's page, a record of another location (`locationId`). Every refusal rolls
  the whole import back: nothing is written.
- The administrator's import under a chosen provider wins: a location another
  organisation's service holds is unlinked from it (that service keeps its history and
  ratings, and its history says where the location went) and filed under the chosen
  provider. Matching automatically never moves a location; it notes where the bound
  provider says it belongs.
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
    # only CQC's API records say these (cqc.ParsedLocation.has_record_status)
    "cqc_manager_absent_since",
    "cqc_unpublished_visit_on",
)

# what an import reads of a service it may update
_SERVICE_COLUMNS = (
    Service.id,
    Service.provider,
    Service.provider.name.as_alias("provider_name"),
    *[getattr(Service, c) for c in COMPARED],
)


class ImportRefused(ImportProblem):
    """Not the importer's to do: only an administrator creates, links or moves (403)."""

    status_code = 403


class ImportConflict(ImportProblem):
    """The location or the CQC provider id is another organisation's (409)."""

    status_code = 409


def page_status(exc: Invalid) -> int:
    """The status a page answers a refused import with: 403 and 409 as the API does,
    400 for a bad file or record."""
    return exc.status_code if isinstance(exc, ImportRefused | ImportConflict) else 400


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ratings_added: int = 0
    notes: list[str] = field(default_factory=list)
    service_ids: list[int] = field(default_factory=list)
    # locations the administrator's import took from another organisation's service
    moved: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
            f"{self.ratings_added} ratings added",
        ]
        if self.moved:
            parts.append(f"{len(self.moved)} moved from another organisation")
        return ", ".join(parts)


class _Orgs:
    """Every organisation's name, kind and bound CQC provider id, read once per import
    (there are few) and kept up to date as the import binds or creates."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = {r["id"]: r for r in rows}
        self._by_provider_id = {r["cqc_provider_id"]: r["id"] for r in rows if r["cqc_provider_id"]}

    @classmethod
    async def load(cls) -> _Orgs:
        return cls(
            await Organisation.select(
                Organisation.id, Organisation.name, Organisation.kind, Organisation.cqc_provider_id
            )
        )

    def name(self, org_id: int) -> str:
        return self.rows[org_id]["name"]

    def bound_to(self, provider_id: str) -> int | None:
        """The organisation bound to a CQC provider id."""
        return self._by_provider_id.get(provider_id)

    def binding(self, org_id: int) -> str | None:
        return self.rows[org_id]["cqc_provider_id"]

    def add(self, org: dict[str, Any]) -> None:
        self.rows[org["id"]] = org

    def bind(self, org_id: int, provider_id: str) -> None:
        self.rows[org_id]["cqc_provider_id"] = provider_id
        self._by_provider_id[provider_id] = org_id


@dataclass
class _Import:
    viewer: Viewer
    orgs: _Orgs
    known: dict[str, dict[str, Any]]  # services by CQC location id
    report: ImportReport
    chosen: int | None  # the provider the administrator chose
    service_id: int | None  # the service whose page the record was uploaded on
    create_providers: bool

    @property
    def admin(self) -> bool:
        return self.viewer.role == Role.ADMIN


async def import_locations(
    viewer: Viewer,
    locations: list[Location],
    *,
    provider_id: int | None = None,
    service_id: int | None = None,
    create_providers: bool = False,
    provider_field: str = "provider_id",
) -> ImportReport:
    """Create or update services from parsed CQC records, in one transaction.

    ``provider_id`` is the administrator's choice of provider for the records (named
    ``provider_field`` in errors: each face calls it its own way); ``service_id`` the
    service whose page the record was uploaded on."""
    if viewer.role == Role.COMMISSIONER:
        raise Forbidden("Commissioners cannot import into a provider's services")
    report = ImportReport()
    async with write_tx():
        orgs = await _Orgs.load()
        run = _Import(
            viewer=viewer,
            orgs=orgs,
            known=await _services_by_location([loc.location_id for loc in locations]),
            report=report,
            chosen=_chosen_provider(viewer, orgs, provider_id, provider_field),
            service_id=service_id,
            create_providers=create_providers,
        )
        for location in locations:
            if service_id is not None:
                await _onto_service(run, location)
            elif run.admin:
                await _as_administrator(run, location)
            else:
                await _as_provider(run, location)
    return report


async def _services_by_location(ids: list[str]) -> dict[str, dict[str, Any]]:
    rows = (
        await Service.select(*_SERVICE_COLUMNS).where(Service.cqc_location_id.is_in(ids))
        if ids
        else []
    )
    return {r["cqc_location_id"]: r for r in rows}


def _chosen_provider(viewer: Viewer, orgs: _Orgs, provider_id: Any, field_name: str) -> int | None:
    if provider_id is None:
        return None
    if viewer.role != Role.ADMIN:
        if provider_id == viewer.organisation_id:
            return None  # their own: the same as choosing nothing
        raise ImportRefused(
            {field_name: "only an administrator chooses the provider of imported records"}
        )
    org = orgs.rows.get(provider_id) if isinstance(provider_id, int) else None
    if org is None or org["kind"] != OrgKind.PROVIDER:
        raise ImportProblem({field_name: "must be a provider organisation"})
    return provider_id


# --- a record uploaded on a service's page ------------------------------------------------


async def _onto_service(run: _Import, location: Location) -> None:
    """The record must be this service's location. A service not linked to a CQC
    location yet is linked by the administrator only: a provider's record could name any
    location, and linking it would take it from its provider."""
    row = await access.editable_service(run.viewer, run.service_id, *_SERVICE_COLUMNS)
    own = row["cqc_location_id"]
    if own and own != location.location_id:
        raise ImportProblem(
            {"locationId": f"{location.location_id} is not this service's CQC location ({own})"}
        )
    if not own:
        if not run.admin:
            raise ImportRefused(
                {
                    "locationId": "this service is not linked to a CQC location yet: only an "
                    "administrator can link it (by setting its CQC location id or importing "
                    "its record)"
                }
            )
        holder = run.known.get(location.location_id)
        if holder and holder["id"] != row["id"]:
            raise ImportConflict(
                {
                    "locationId": f"{location.location_id} is held by "
                    f"{holder['provider_name']} ({holder['name']}): unlink it there first, or "
                    "import it from Admin › Import from CQC choosing the provider to move it"
                }
            )
    if run.admin:
        await _bind(run, row["provider"], location, row["id"])
    else:
        _check_provider_id(run, location, row, "providerId")
    await _apply(run, location, row)


# --- providers' own imports ----------------------------------------------------------------


async def _as_provider(run: _Import, location: Location) -> None:
    where = f"location {location.location_id}"
    holder = run.known.get(location.location_id)
    if holder is None:
        raise ImportRefused(
            {where: "is not one of your services: only an administrator imports a new CQC location"}
        )
    in_scope = await access.services(run.viewer, Service.id).where(Service.id == holder["id"])
    if not in_scope:
        raise ImportConflict({where: f"is held by {holder['provider_name']}"})
    _check_provider_id(run, location, holder, where)
    await _apply(run, location, holder)


def _check_provider_id(run: _Import, location: Location, service: dict[str, Any], key: str) -> None:
    """A provider's record must be of its own CQC provider: not one bound to another
    organisation, nor other than its organisation's bound one or its service's own."""
    provider_id = location.provider_id
    said = provider_id if key == "providerId" else f"providerId {provider_id}"
    org = service["provider"]
    bound = run.orgs.bound_to(provider_id)
    if bound is not None and bound != org:
        raise ImportConflict({key: f"{said} is bound to {run.orgs.name(bound)}"})
    ours = run.orgs.binding(org)
    if ours and ours != provider_id:
        raise ImportConflict(
            {
                key: f"{said} is not the CQC provider of {run.orgs.name(org)} ({ours}): "
                "ask an administrator"
            }
        )
    own = service["cqc_provider_id"]
    if own and own != provider_id:
        raise ImportConflict(
            {key: f"{said} differs from this service's CQC provider ({own}): ask an administrator"}
        )


# --- the administrator's imports -----------------------------------------------------------


async def _as_administrator(run: _Import, location: Location) -> None:
    holder = run.known.get(location.location_id)
    if holder and run.chosen in (None, holder["provider"]):
        if run.chosen is None:
            # matching automatically never moves a location, nor binds where one merely is
            _note_bound_elsewhere(run, location, holder)
        await _apply(run, location, holder)
        if run.chosen is not None:
            await _bind(run, run.chosen, location, holder["id"])
        return
    moved_from = await _move_away(run, location, holder, run.chosen) if holder else ""
    provider = run.chosen if run.chosen is not None else await _provider_for(run, location)
    new = {"id": None, "provider": provider, "provider_name": run.orgs.name(provider)}
    service_id = await _apply(run, location, new, moved_from)
    # the provider the administrator chose, or matched by its (administrator-set) name,
    # or created: bound to the record's provider id unless either is bound already
    await _bind(run, provider, location, service_id)


def _note_bound_elsewhere(run: _Import, location: Location, holder: dict[str, Any]) -> None:
    bound = run.orgs.bound_to(location.provider_id)
    if bound is not None and bound != holder["provider"]:
        run.report.notes.append(
            f"{location.name}: location {location.location_id} is held by "
            f"{holder['provider_name']}, but CQC provider {location.provider_id} is bound to "
            f"{run.orgs.name(bound)}: import it choosing {run.orgs.name(bound)} to move it there"
        )


async def _provider_for(run: _Import, location: Location) -> int:
    """Matching automatically: the organisation bound to the record's CQC provider id,
    else an unbound provider of the record's provider name, else (the care directory) a
    new provider."""
    where = f"location {location.location_id}"
    bound = run.orgs.bound_to(location.provider_id)
    if bound is not None:
        return bound
    if location.provider_name:
        same_name = [
            r
            for r in run.orgs.rows.values()
            if r["kind"] == OrgKind.PROVIDER and r["name"] == location.provider_name
        ]
        unbound = [r for r in same_name if not r["cqc_provider_id"]]
        if unbound:
            return unbound[0]["id"]
        if same_name:
            raise ImportProblem(
                {
                    where: f"no organisation is bound to CQC provider {location.provider_id}, "
                    f"and {location.provider_name} is bound to "
                    f"{same_name[0]['cqc_provider_id']}: choose the provider"
                }
            )
        if run.create_providers:
            org = await people.create_organisation(location.provider_name, "provider")
            run.orgs.add(org)
            return org["id"]
    raise ImportProblem(
        {
            where: f"no provider organisation for CQC provider "
            f"{location.provider_id}: choose the provider"
        }
    )


async def _move_away(
    run: _Import, location: Location, holder: dict[str, Any], provider: int
) -> str:
    """The administrator's import under another provider wins: the service that held the
    location is unlinked from it (keeping its history and ratings)."""
    unlinked = {"cqc_location_id": None, "cqc_provider_id": ""}
    await Service.update({Service.cqc_location_id: None, Service.cqc_provider_id: ""}).where(
        Service.id == holder["id"]
    )
    await history.record(
        actor=run.viewer,
        service_id=holder["id"],
        case_id=None,
        entity="service",
        entity_id=holder["id"],
        action="location_moved",
        summary=f"CQC location {location.location_id} moved to {run.orgs.name(provider)} "
        "by an administrator's import",
        before={k: holder[k] for k in unlinked},
        after=unlinked,
    )
    run.known.pop(location.location_id, None)
    run.report.moved.append(location.name)
    was = f"{holder['provider_name']} ({holder['name']})"
    run.report.notes.append(
        f"{location.name}: CQC location {location.location_id} moved from {was} "
        f"to {run.orgs.name(provider)}"
    )
    return was


async def _bind(run: _Import, org_id: int, location: Location, service_id: int | None) -> None:
    """The administrator's import under an organisation binds it to the record's CQC
    provider id when neither is bound yet; otherwise it says why it did not."""
    provider_id = location.provider_id
    bound = run.orgs.bound_to(provider_id)
    if bound == org_id:
        return
    name = run.orgs.name(org_id)
    if bound is not None:
        run.report.notes.append(
            f"{location.name}: CQC provider {provider_id} is bound to "
            f"{run.orgs.name(bound)}, not {name}: left as it is"
        )
        return
    if run.orgs.binding(org_id):
        run.report.notes.append(
            f"{location.name}: {name} is bound to CQC provider {run.orgs.binding(org_id)}, "
            f"not {provider_id}: left as it is"
        )
        return
    await Organisation.update({Organisation.cqc_provider_id: provider_id}).where(
        Organisation.id == org_id
    )
    run.orgs.bind(org_id, provider_id)
    run.report.notes.append(f"{name} is now bound to CQC provider {provider_id}")
    if service_id is not None:
        await history.record(
            actor=run.viewer,
            service_id=service_id,
            case_id=None,
            entity="service",
            entity_id=service_id,
            action="provider_bound",
            summary=f"{name} bound to CQC provider {provider_id} by an administrator's import",
            after={"cqc_provider_id": provider_id},
        )


async def _apply(
    run: _Import, location: Location, target: dict[str, Any], moved_from: str = ""
) -> int:
    from improve.cases import domain as cases

    report = run.report
    fields = location.service_fields()
    if not run.admin:
        # a provider's record never sets the provider id it is filed under
        fields.pop("cqc_provider_id")
    if target["id"] is None:
        rows = await Service.insert(
            Service(provider=target["provider"], created_at=clock.now(), **fields)
        ).returning(Service.id)
        service_id = rows[0]["id"]
        report.created.append(location.name)
        summary = f"Created from CQC record {location.location_id}"
        if moved_from:
            summary += f", moved from {moved_from}"
        await history.record(
            actor=run.viewer,
            service_id=service_id,
            case_id=None,
            entity="service",
            entity_id=service_id,
            action="imported",
            summary=summary,
            after=fields,
        )
        after: dict[str, Any] = {}
    else:
        service_id = target["id"]
        before, after = history.changed({k: target.get(k) for k in fields}, fields)
        if after:
            await Service.update({getattr(Service, k): v for k, v in after.items()}).where(
                Service.id == service_id
            )
            await history.record(
                actor=run.viewer,
                service_id=service_id,
                case_id=None,
                entity="service",
                entity_id=service_id,
                action="imported",
                summary=f"Updated from CQC record {location.location_id}",
                before=before,
                after=after,
            )
    # the same location again later in the file is this service, as it now is
    run.known[location.location_id] = {
        **{k: target.get(k) for k in COMPARED},
        **fields,
        "id": service_id,
        "provider": target["provider"],
        "provider_name": target["provider_name"],
    }
    added = 0
    for rating in location.ratings:
        _, created = await ratings.store(run.viewer, service_id, rating)
        if created:
            added += 1
            case = await cases.open_case_for(service_id)
            if cases.moves_case_on(case, rating):
                note = await cases._apply_rating(run.viewer, case, rating)
                if note:
                    report.notes.append(f"{location.name}: {note}")
    report.ratings_added += added
    if target["id"] is not None:
        (report.updated if (after or added) else report.unchanged).append(location.name)
    report.notes.extend(f"{location.name}: {n}" for n in location.notes)
    report.service_ids.append(service_id)
    return service_id


def parse_json_bytes(content: bytes) -> Any:
    from improve.web.bodies import load_json

    try:
        return load_json(content.decode("utf-8-sig"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Invalid({"file": f"is not JSON ({exc})"}) from None
