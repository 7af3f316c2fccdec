"""Services: listing within the viewer's scope, details, and changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Count

from improve import access, clock, history
from improve.access import Viewer
from improve.accounts.people import clean_name, parse_choice
from improve.accounts.tables import Organisation, OrgKind, Role, User
from improve.db import write_tx
from improve.errors import FieldForbidden, Invalid, NotFound
from improve.services.tables import SERVICE_TYPE_LABELS, Commissioning, Service, ServiceType

SERVICE_COLUMNS = (
    Service.id,
    Service.name,
    Service.service_type,
    Service.local_authority,
    Service.beds,
    Service.provider,
    Service.provider.name.as_alias("provider_name"),
    Service.manager,
    Service.manager.name.as_alias("manager_name"),
    Service.manager.active.as_alias("manager_active"),
    Service.cqc_location_id,
    Service.registered_manager_name,
    Service.address,
    Service.postcode,
    Service.cqc_manager_absent_since,
    Service.cqc_unpublished_visit_on,
)


def manager_has_left(row: dict[str, Any]) -> bool:
    """The service's registered manager's account is inactive: the service needs a new
    registered manager (a condition of its CQC registration), and whatever went to them
    (reminders, digests, their scope) reaches nobody."""
    return bool(row.get("manager_name")) and not row.get("manager_active", True)


def type_label(value: str) -> str:
    return SERVICE_TYPE_LABELS.get(ServiceType(value), value)


async def _attach_commissioners(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds each service's commissioners with one query for all rows (no N+1)."""
    ids = [r["id"] for r in rows]
    links = []
    if ids:
        links = (
            await Commissioning.select(
                Commissioning.service,
                Commissioning.commissioner.as_alias("id"),
                Commissioning.commissioner.name.as_alias("name"),
            )
            .where(Commissioning.service.is_in(ids))
            .order_by(Commissioning.commissioner.name)
        )
    by_service: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for link in links:
        by_service[link["service"]].append({"id": link["id"], "name": link["name"]})
    for row in rows:
        row["commissioners"] = by_service[row["id"]]
        row["service_type_label"] = type_label(row["service_type"])
    return rows


async def list_for(viewer: Viewer) -> list[dict[str, Any]]:
    rows = (
        await access.services(viewer, *SERVICE_COLUMNS).order_by(Service.name).order_by(Service.id)
    )
    return await _attach_commissioners(rows)


@dataclass(frozen=True)
class ServiceFilters:
    rating: str = ""  # latest overall rating
    stage: str = ""  # open case's stage; "none" for no open case
    local_authority: str = ""
    overdue: bool = False

    def active(self) -> bool:
        return bool(self.rating or self.stage or self.local_authority or self.overdue)


async def overview(viewer: Viewer, filters: ServiceFilters = ServiceFilters()) -> list[dict]:
    """Services in scope with their latest rating and open case, filtered; stable order
    (name, then id). Four queries whatever the number of services."""
    from improve.cases.tables import Case
    from improve.services.tables import Rating

    query = access.services(viewer, *SERVICE_COLUMNS).order_by(Service.name).order_by(Service.id)
    if filters.local_authority:
        # case-insensitive equality on both engines (Piccolo's ilike warns on SQLite, and
        # would read % and _ in the input as wildcards)
        query = query.where(
            WhereRaw("lower(service.local_authority) = lower({})", filters.local_authority)
        )
    rows = await _attach_commissioners(await query)
    ids = [r["id"] for r in rows]
    latest: dict[int, dict[str, Any]] = {}
    cases: dict[int, dict[str, Any]] = {}
    if ids:
        for r in (
            await Rating.select(Rating.service, Rating.published_on, Rating.overall)
            # the location's own rating (not its service types')
            .where(Rating.service.is_in(ids) & (Rating.service_type == ""))
            .order_by(Rating.published_on)
        ):
            latest[r["service"]] = r  # ascending: the last one wins
        for c in await Case.select(
            Case.id,
            Case.service,
            Case.stage,
            Case.special_measures,
            Case.action_plan_due_on,
            Case.expected_reinspection_on,
        ).where(Case.service.is_in(ids) & (Case.stage != "closed")):
            cases[c["service"]] = c
    today = clock.today()
    out = []
    for row in rows:
        row["latest_rating"] = latest.get(row["id"])
        case = cases.get(row["id"])
        if case:
            case["overdue"] = bool(
                case["action_plan_due_on"]
                and case["action_plan_due_on"] < today
                and case["stage"] in ("assessing", "plan_drafted")
            )
        row["open_case"] = case
        if filters.rating and (row["latest_rating"] or {}).get("overall") != filters.rating:
            continue
        if filters.stage == "none" and case:
            continue
        if (
            filters.stage
            and filters.stage != "none"
            and (not case or case["stage"] != filters.stage)
        ):
            continue
        if filters.overdue and not (case and case["overdue"]):
            continue
        out.append(row)
    return out


async def local_authorities(viewer: Viewer) -> list[str]:
    rows = await access.services(viewer, Service.local_authority).distinct()
    return sorted({r["local_authority"] for r in rows if r["local_authority"]})


async def detail(viewer: Viewer, service_id: int) -> dict[str, Any]:
    row = await access.service_or_404(viewer, service_id, *SERVICE_COLUMNS)
    return (await _attach_commissioners([row]))[0]


def _clean_details(data: dict[str, Any]) -> dict[str, Any]:
    """Validates the fields people edit; collects every problem before answering."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    if "name" in data:
        try:
            out["name"] = clean_name(str(data["name"] or ""))
        except Invalid as exc:
            errors.update(exc.errors)
    if "service_type" in data:
        try:
            out["service_type"] = parse_choice(ServiceType, data["service_type"], "service_type")
        except Invalid as exc:
            errors.update(exc.errors)
    if "local_authority" in data:
        value = " ".join(str(data["local_authority"] or "").split())
        if len(value) > 120:
            errors["local_authority"] = "must be at most 120 characters"
        out["local_authority"] = value
    if "cqc_location_id" in data:
        raw = str(data["cqc_location_id"] or "").strip()
        if not raw:
            out["cqc_location_id"] = None
        else:
            from improve.services.cqc import check_location_id

            try:
                out["cqc_location_id"] = check_location_id(raw)
            except Invalid as exc:
                errors.update(exc.errors)
    if "beds" in data:
        raw = data["beds"]
        if raw in (None, ""):
            out["beds"] = None
        else:
            try:
                beds = int(raw)
            except (TypeError, ValueError):
                errors["beds"] = "must be a whole number"
            else:
                if not 0 <= beds <= 2000:
                    errors["beds"] = "must be between 0 and 2000"
                out["beds"] = beds
    if errors:
        raise Invalid(errors)
    service_type = out.get("service_type")
    if service_type in (ServiceType.HOME_CARE, ServiceType.SUPPORTED_LIVING) and out.get("beds"):
        raise Invalid({"beds": "only care homes have beds"})
    return out


async def update_details(viewer: Viewer, service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Changes name, type, local authority and beds (managers, quality leads, admins) and
    the CQC location id (administrators only: linking a service to a location decides
    whose imports update it, so a provider could otherwise take another's location)."""
    current = await access.editable_service(
        viewer, service_id, Service.id, Service.cqc_location_id, Service.cqc_provider_id
    )
    changes = _clean_details(data)
    location = changes.pop("cqc_location_id", current["cqc_location_id"])
    async with write_tx():
        if location != current["cqc_location_id"]:
            await _relink(viewer, current, location, changes)
        if changes:
            await Service.update({getattr(Service, k): v for k, v in changes.items()}).where(
                Service.id == service_id
            )
    return await detail(viewer, service_id)


async def _relink(
    viewer: Viewer, current: dict[str, Any], location: str | None, changes: dict[str, Any]
) -> None:
    if not viewer.is_admin:
        raise FieldForbidden(
            {"cqc_location_id": "can be changed by an administrator only: ask them to link it"}
        )
    if location:
        holder = (
            await Service.select(Service.name, Service.provider.name.as_alias("provider_name"))
            .where((Service.cqc_location_id == location) & (Service.id != current["id"]))
            .first()
        )
        if holder:
            raise Invalid(
                {
                    "cqc_location_id": f"is held by {holder['provider_name']} "
                    f"({holder['name']}): unlink it there first"
                }
            )
    # the CQC provider id came with the old location's record
    changes.update(cqc_location_id=location, cqc_provider_id="")
    before = {"cqc_location_id": current["cqc_location_id"]}
    if current["cqc_provider_id"]:
        before["cqc_provider_id"] = current["cqc_provider_id"]
    await history.record(
        actor=viewer,
        service_id=current["id"],
        case_id=None,
        entity="service",
        entity_id=current["id"],
        action="location_linked" if location else "location_unlinked",
        summary=f"CQC location id set to {location}" if location else "CQC location id removed",
        before=before,
        after={"cqc_location_id": location},
    )


async def _check_provider(provider_id: Any) -> int:
    try:
        provider_id = int(provider_id)
    except (TypeError, ValueError):
        raise Invalid({"provider": "choose a provider"}) from None
    org = await Organisation.select(Organisation.kind).where(Organisation.id == provider_id).first()
    if org is None or org["kind"] != OrgKind.PROVIDER:
        raise Invalid({"provider": "must be a provider organisation"})
    return provider_id


async def _check_manager(manager_id: Any, provider_id: int) -> int | None:
    if manager_id in (None, "", 0, "0"):
        return None
    try:
        manager_id = int(manager_id)
    except (TypeError, ValueError):
        raise Invalid({"manager": "choose a registered manager"}) from None
    user = await User.select(User.role, User.organisation).where(User.id == manager_id).first()
    if user is None or user["role"] != Role.REGISTERED_MANAGER:
        raise Invalid({"manager": "must be a registered manager"})
    if user["organisation"] != provider_id:
        raise Invalid({"manager": "must work for the service's provider"})
    return manager_id


async def _check_commissioners(ids: list[Any]) -> list[int]:
    try:
        wanted = sorted({int(i) for i in ids if str(i).strip()})
    except (TypeError, ValueError):
        raise Invalid({"commissioners": "must be organisation ids"}) from None
    if not wanted:
        return []
    found = await Organisation.select(Organisation.id).where(
        Organisation.id.is_in(wanted) & (Organisation.kind == OrgKind.COMMISSIONER)
    )
    if len(found) != len(wanted):
        raise Invalid({"commissioners": "every one must be a commissioner organisation"})
    return wanted


async def create(viewer: Viewer, data: dict[str, Any]) -> dict[str, Any]:
    """A new service (administrators)."""
    access.require_admin(viewer)
    details = _clean_details({"name": data.get("name"), **_optional(data)})
    provider_id = await _check_provider(data.get("provider"))
    manager_id = await _check_manager(data.get("manager"), provider_id)
    commissioner_ids = await _check_commissioners(list(data.get("commissioners") or []))
    async with write_tx():
        rows = await Service.insert(
            Service(provider=provider_id, manager=manager_id, created_at=clock.now(), **details)
        ).returning(Service.id)
        service_id = rows[0]["id"]
        await _replace_links(service_id, commissioner_ids)
    return await detail(viewer, service_id)


def _optional(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("service_type", "local_authority", "beds") if k in data}


async def _replace_links(service_id: int, commissioner_ids: list[int]) -> None:
    await Commissioning.delete().where(Commissioning.service == service_id)
    if commissioner_ids:
        await Commissioning.insert(
            *[Commissioning(service=service_id, commissioner=c) for c in commissioner_ids]
        )


async def administer(viewer: Viewer, service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Details, provider, manager and commissioner links in one transaction (admins)."""
    access.require_admin(viewer)
    current = await Service.select(Service.provider).where(Service.id == service_id).first()
    if current is None:
        raise NotFound("No such service")
    details = _clean_details({k: data[k] for k in ("name",) if k in data} | _optional(data))
    provider_id = await _check_provider(data.get("provider", current["provider"]))
    manager_id = await _check_manager(data.get("manager"), provider_id)
    commissioner_ids = await _check_commissioners(list(data.get("commissioners") or []))
    changes = {getattr(Service, k): v for k, v in details.items()}
    changes[Service.provider] = provider_id
    changes[Service.manager] = manager_id
    async with write_tx():
        await Service.update(changes).where(Service.id == service_id)
        await _replace_links(service_id, commissioner_ids)
    return await detail(viewer, service_id)


async def managers_by_provider() -> dict[int, list[dict[str, Any]]]:
    rows = (
        await User.select(User.id, User.name, User.organisation)
        .where(
            (User.role == Role.REGISTERED_MANAGER) & (User.active == True)  # noqa: E712
        )
        .order_by(User.name)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["organisation"], []).append(row)
    return out


async def count_by_provider() -> dict[int, int]:
    rows = await Service.select(Service.provider, Count(alias="n")).group_by(Service.provider)
    return {row["provider"]: row["n"] for row in rows}
