"""JSON API v1 for ratings, CQC imports, cases, findings, history and the framework."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import get, patch, post
from litestar.exceptions import (
    NotFoundException,
)
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File
from msgspec import Meta

from improve import access, framework, history
from improve.accounts.tables import Role
from improve.api import choices
from improve.api.documented import ERRORS, WRITE_ERRORS
from improve.cases import domain as cases
from improve.errors import Forbidden
from improve.framework import KEY_QUESTIONS
from improve.services import cqc, importer, ratings
from improve.web.auth import CurrentViewer
from improve.web.params import Id, Limit, Offset


class EnforcementBody(msgspec.Struct, forbid_unknown_fields=True):
    kind: str
    regulation: str = ""
    description: Annotated[str, Meta(max_length=2000)] = ""
    compliance_due_on: dt.date | None = None


class RatingBody(msgspec.Struct, forbid_unknown_fields=True):
    published_on: dt.date
    overall: str = ""
    safe: str = ""
    effective: str = ""
    caring: str = ""
    responsive: str = ""
    well_led: str = ""
    enforcement: list[EnforcementBody] = []


class EnforcementOut(msgspec.Struct):
    kind: str
    regulation: str
    description: str
    issued_on: dt.date | None
    compliance_due_on: dt.date | None


class RatingOut(msgspec.Struct):
    id: int
    published_on: dt.date
    overall: str
    safe: str
    effective: str
    caring: str
    responsive: str
    well_led: str
    source: str
    enforcement: list[EnforcementOut] = []
    # "" for the location's own rating; else the service type CQC rated on its own
    service_type: str = ""
    assessed_on: dt.date | None = None  # a Single Assessment Framework assessment's date

    @classmethod
    def of(cls, row: dict[str, Any]) -> RatingOut:
        return cls(
            id=row["id"],
            published_on=row["published_on"],
            overall=row["overall"],
            source=row["source"],
            service_type=row.get("service_type") or "",
            assessed_on=row.get("assessed_on"),
            **{k: row[k] for k in KEY_QUESTIONS},
            enforcement=[
                EnforcementOut(
                    n["kind"],
                    n["regulation"],
                    n["description"],
                    n["issued_on"],
                    n["compliance_due_on"],
                )
                for n in row.get("enforcement", [])
            ],
        )


class RatingPage(msgspec.Struct):
    items: list[RatingOut]
    total: int
    limit: int
    offset: int


class RatingRecorded(msgspec.Struct):
    rating: RatingOut
    created: bool
    note: str


class ImportBody(msgspec.Struct, forbid_unknown_fields=True):
    records: list[dict[str, Any]]
    provider_id: int | None = None


class ImportOut(msgspec.Struct):
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    ratings_added: int
    notes: list[str]
    service_ids: list[int]
    # names of the locations an administrator's import moved from another organisation
    moved: list[str] = []

    @classmethod
    def of(cls, report: importer.ImportReport) -> ImportOut:
        return cls(
            report.created,
            report.updated,
            report.unchanged,
            report.ratings_added,
            report.notes,
            report.service_ids,
            report.moved,
        )


class CaseOut(msgspec.Struct):
    id: int
    service_id: int
    service_name: str
    stage: str
    special_measures: bool
    # the publication of the rating that put the service in special measures; null
    # while it is not in them
    special_measures_since: dt.date | None
    opened_on: dt.date
    published_on: dt.date | None
    action_plan_due_on: dt.date | None
    expected_reinspection_on: dt.date | None
    sustain_until: dt.date | None
    outcome: str
    closed_on: dt.date | None
    version: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> CaseOut:
        return cls(
            id=row["id"],
            service_id=row["service"],
            service_name=row["service_name"],
            **{
                k: row[k]
                for k in (
                    "stage",
                    "special_measures",
                    "special_measures_since",
                    "opened_on",
                    "published_on",
                    "action_plan_due_on",
                    "expected_reinspection_on",
                    "sustain_until",
                    "outcome",
                    "closed_on",
                    "version",
                )
            },
        )


class CasePage(msgspec.Struct):
    items: list[CaseOut]
    total: int
    limit: int
    offset: int


class MilestoneOut(msgspec.Struct):
    key: str
    label: str
    on: dt.date
    days_left: int
    note: str


class MoveOut(msgspec.Struct):
    stage: str
    allowed: bool
    reasons: list[str]


class CaseDetail(msgspec.Struct):
    case: CaseOut
    timeline: list[MilestoneOut]
    moves: list[MoveOut]
    findings: int
    assumptions: list[str]


class CasePatch(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    expected_reinspection_on: dt.date | None | msgspec.UnsetType = msgspec.UNSET
    action_plan_due_on: dt.date | None | msgspec.UnsetType = msgspec.UNSET


class StageBody(msgspec.Struct, forbid_unknown_fields=True):
    stage: choices.StageName
    version: int
    outcome: choices.ClosingOutcome = ""


class FindingBody(msgspec.Struct, forbid_unknown_fields=True):
    regulation: str
    key_question: choices.KeyQuestion
    description: Annotated[str, Meta(max_length=5000)]
    items: list[str] = []
    source: choices.Source = "cqc_inspection"
    severity: choices.Severity = "high"
    framework: str = "saf"


class FindingPatch(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    regulation: str | msgspec.UnsetType = msgspec.UNSET
    key_question: choices.KeyQuestion | msgspec.UnsetType = msgspec.UNSET
    description: Annotated[str, Meta(max_length=5000)] | msgspec.UnsetType = msgspec.UNSET
    items: list[str] | msgspec.UnsetType = msgspec.UNSET
    source: choices.Source | msgspec.UnsetType = msgspec.UNSET
    severity: choices.Severity | msgspec.UnsetType = msgspec.UNSET
    status: choices.FindingStatus | msgspec.UnsetType = msgspec.UNSET
    withdrawn_reason: (
        Annotated[
            str,
            Meta(max_length=2000, description="Why it was recorded in error (status withdrawn)"),
        ]
        | msgspec.UnsetType
    ) = msgspec.UNSET


class FindingOut(msgspec.Struct):
    id: int
    case_id: int
    framework: str
    regulation: str
    key_question: str
    items: list[str]
    description: str
    source: str
    severity: str
    status: str
    version: int
    withdrawn_reason: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> FindingOut:
        return cls(
            id=row["id"],
            case_id=row["case"],
            items=list(row["items"] or []),
            **{
                k: row[k]
                for k in (
                    "framework",
                    "regulation",
                    "key_question",
                    "description",
                    "source",
                    "severity",
                    "status",
                    "version",
                    "withdrawn_reason",
                )
            },
        )


class FindingPage(msgspec.Struct):
    items: list[FindingOut]
    total: int
    limit: int
    offset: int


class EventOut(msgspec.Struct):
    id: int
    at: dt.datetime
    actor: str
    entity: str
    entity_id: int | None
    action: str
    summary: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class HistoryPage(msgspec.Struct):
    items: list[EventOut]
    total: int
    limit: int
    offset: int


class ItemOut(msgspec.Struct):
    id: str
    kind: str
    key_question: str
    title: str
    description: str
    regulations: list[str]


class RegulationOut(msgspec.Struct):
    id: str
    title: str
    summary: str


class FrameworkOut(msgspec.Struct):
    id: str
    title: str
    in_force_from: dt.date
    key_questions: dict[str, str]
    regulations: list[RegulationOut]
    items: list[ItemOut]


def _unset(struct: msgspec.Struct) -> dict[str, Any]:
    return {
        f: getattr(struct, f)
        for f in struct.__struct_fields__
        if getattr(struct, f) is not msgspec.UNSET and f != "version"
    }


@get(
    "/services/{service_id:int}/ratings", summary="A service's ratings, newest first", raises=ERRORS
)
async def list_ratings(
    viewer: CurrentViewer,
    service_id: Id,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RatingPage:
    rows = await ratings.for_service(viewer, service_id)
    return RatingPage(
        [RatingOut.of(r) for r in rows[offset : offset + limit]], len(rows), limit, offset
    )


@post(
    "/services/{service_id:int}/ratings", summary="Record a published rating", raises=WRITE_ERRORS
)
async def record_rating(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[RatingBody]
) -> RatingRecorded:
    body = msgspec.to_builtins(data)
    row, created, note = await cases.record_rating(viewer, service_id, body)
    rows = await ratings.for_service(viewer, service_id)
    full = next(r for r in rows if r["id"] == row["id"])
    return RatingRecorded(RatingOut.of(full), created, note)


@post(
    "/services/{service_id:int}/cqc-record",
    summary="Import this service's CQC location record (the JSON the CQC API returns); "
    "only an administrator links a service not yet linked to a CQC location",
    raises=WRITE_ERRORS,
)
async def import_service_record(
    viewer: CurrentViewer, service_id: Id, data: JSONBody[dict[str, Any]]
) -> ImportOut:
    await access.editable_service(viewer, service_id)  # scope first, then the body
    locations = cqc.parse_locations(data)
    return ImportOut.of(await importer.import_locations(viewer, locations, service_id=service_id))


@post(
    "/imports/cqc-locations",
    summary="Update services from CQC location records (quality leads: their own locations "
    "only); administrators also create, move (provider_id) and bind provider ids",
    raises=WRITE_ERRORS,
)
async def import_locations(viewer: CurrentViewer, data: JSONBody[ImportBody]) -> ImportOut:
    if viewer.role not in (Role.ADMIN, Role.QUALITY_LEAD):
        raise Forbidden(
            "Only administrators and quality leads import services in bulk; "
            "import one service's record from its page"
        )
    locations = cqc.parse_locations(data.records)
    return ImportOut.of(
        await importer.import_locations(viewer, locations, provider_id=data.provider_id)
    )


@get("/cases", summary="Cases in the caller's scope, newest first", raises=ERRORS)
async def list_cases(
    viewer: CurrentViewer,
    stage: FromQuery[str] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> CasePage:
    rows, total = await cases.list_cases(viewer, stage=stage, limit=limit, offset=offset)
    return CasePage([CaseOut.of(r) for r in rows], total, limit, offset)


@post(
    "/services/{service_id:int}/cases",
    summary="Open a case from the latest rating",
    raises=WRITE_ERRORS,
)
async def open_case(viewer: CurrentViewer, service_id: Id) -> CaseOut:
    return CaseOut.of(await cases.open_case(viewer, service_id))


@get("/cases/{case_id:int}", summary="A case with its timeline and possible moves", raises=ERRORS)
async def get_case(viewer: CurrentViewer, case_id: Id) -> CaseDetail:
    view = await cases.case_view(viewer, case_id)
    return CaseDetail(
        case=CaseOut.of(view["case"]),
        timeline=[
            MilestoneOut(m.key, m.label, m.on, m.days_left, m.note) for m in view["milestones"]
        ],
        moves=[
            MoveOut(m["stage"], m["decision"].allowed, list(m["decision"].reasons))
            for m in view["moves"]
        ],
        findings=len(view["findings"]),
        assumptions=list(view["assumptions"]),
    )


@patch(
    "/cases/{case_id:int}",
    summary="Change a case's dates (send the version you read)",
    raises=WRITE_ERRORS,
)
async def patch_case(viewer: CurrentViewer, case_id: Id, data: JSONBody[CasePatch]) -> CaseOut:
    return CaseOut.of(await cases.update_dates(viewer, case_id, _unset(data), version=data.version))


@post("/cases/{case_id:int}/stage", summary="Move a case to another stage", raises=WRITE_ERRORS)
async def move_case(viewer: CurrentViewer, case_id: Id, data: JSONBody[StageBody]) -> CaseOut:
    return CaseOut.of(
        await cases.move(viewer, case_id, data.stage, version=data.version, outcome=data.outcome)
    )


@get("/cases/{case_id:int}/findings", summary="A case's findings", raises=ERRORS)
async def list_findings(
    viewer: CurrentViewer,
    case_id: Id,
    limit: Limit = 100,
    offset: Offset = 0,
) -> FindingPage:
    rows = await cases.findings_of(viewer, case_id)
    return FindingPage(
        [FindingOut.of(r) for r in rows[offset : offset + limit]], len(rows), limit, offset
    )


@post("/cases/{case_id:int}/findings", summary="Add a finding", raises=WRITE_ERRORS)
async def add_finding(
    viewer: CurrentViewer, case_id: Id, data: JSONBody[FindingBody]
) -> FindingOut:
    return FindingOut.of(await cases.add_finding(viewer, case_id, msgspec.to_builtins(data)))


@patch(
    "/findings/{finding_id:int}",
    summary="Change a finding (send the version you read)",
    raises=WRITE_ERRORS,
)
async def patch_finding(
    viewer: CurrentViewer, finding_id: Id, data: JSONBody[FindingPatch]
) -> FindingOut:
    return FindingOut.of(
        await cases.update_finding(viewer, finding_id, _unset(data), version=data.version)
    )


@get("/cases/{case_id:int}/history", summary="A case's history, newest first", raises=ERRORS)
async def case_history(
    viewer: CurrentViewer,
    case_id: Id,
    entity: FromQuery[str] = "",
    action: FromQuery[str] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> HistoryPage:
    await cases.get_case(viewer, case_id)
    rows = await history.feed(
        viewer, case_id, entity=entity, action=action, limit=limit, offset=offset
    )
    total = await history.count(viewer, case_id, entity=entity, action=action)
    return HistoryPage(
        [
            EventOut(
                r["id"],
                r["at"],
                r["actor_name"],
                r["entity"],
                r["entity_id"],
                r["action"],
                r["summary"],
                r["before"],
                r["after"],
            )
            for r in rows
        ],
        total,
        limit,
        offset,
    )


def _framework_out(fw: framework.Framework) -> FrameworkOut:
    return FrameworkOut(
        id=fw.id,
        title=fw.title,
        in_force_from=fw.in_force_from,
        key_questions=dict(fw.key_questions),
        regulations=[RegulationOut(r.id, r.title, r.summary) for r in fw.regulations.values()],
        items=[
            ItemOut(i.id, i.kind, i.key_question, i.title, i.description, list(i.regulations))
            for i in fw.items.values()
        ],
    )


@get("/frameworks", summary="CQC assessment framework versions", raises=ERRORS)
async def list_frameworks(viewer: CurrentViewer) -> list[FrameworkOut]:
    return [
        _framework_out(f)
        for f in sorted(framework.frameworks().values(), key=lambda f: f.in_force_from)
    ]


@get("/frameworks/{framework_id:str}", summary="One framework version", raises=ERRORS)
async def get_framework(viewer: CurrentViewer, framework_id: FromPath[str]) -> FrameworkOut:
    try:
        return _framework_out(framework.get(framework_id))
    except framework.FrameworkError:
        raise NotFoundException("No such framework") from None


@get(
    "/cases/{case_id:int}/casefile",
    summary="The case file: plan, findings, reviews, measures, evidence files and history "
    "in one ZIP",
    raises=ERRORS,
    media_type="application/zip",
)
async def case_file(viewer: CurrentViewer, case_id: Id) -> File:
    from improve.cases.casefile import build
    from improve.web.downloads import temporary_download

    made = await build(viewer, case_id)
    return temporary_download(made.path, made.filename, "application/zip")


ROUTES = [
    list_ratings,
    record_rating,
    import_service_record,
    import_locations,
    list_cases,
    open_case,
    get_case,
    patch_case,
    move_case,
    list_findings,
    add_finding,
    patch_finding,
    case_history,
    case_file,
    list_frameworks,
    get_framework,
]
