"""JSON API v1 for action plans: proposals, committing, the plan with its coverage."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Response, get, patch, post
from litestar.params import FromPath, JSONBody
from msgspec import Meta

from improve import clock
from improve.api import choices
from improve.api.documented import ERRORS, WRITE_ERRORS
from improve.cases import domain as cases
from improve.plans import domain as plans
from improve.web.auth import CurrentViewer
from improve.web.downloads import csv_download
from improve.web.params import Id


class ProposalOut(msgspec.Struct):
    template_id: str
    theme: str
    title: str
    steps: list[str]
    why: str
    owner_role: str
    due_days: int
    evidence: list[str]
    measure: str | None
    finding_ids: list[int]
    score: int
    reasons: list[str]


class ActionOut(msgspec.Struct):
    id: int
    template_id: str | None
    playbook_id: str
    playbook_version: int
    theme: str
    title: str
    owner_id: int | None
    owner_name: str | None
    due_on: dt.date
    status: str
    overdue: bool
    finding_ids: list[int]
    version: int
    owner_left: bool = msgspec.field(default=False)  # the owner's account is inactive
    first_due_on: dt.date | None = None  # the due date first agreed
    slipped_days: int = 0  # open, and due this many days later than first agreed

    @classmethod
    def of(cls, row: dict[str, Any]) -> ActionOut:
        return cls(
            row["id"],
            row["template_id"],
            row["playbook_id"],
            row["playbook_version"],
            row["theme"],
            row["title"],
            row["owner"],
            row["owner_name"],
            row["due_on"],
            row["status"],
            row["overdue"],
            row["finding_ids"],
            row["version"],
            row["owner_left"],
            row.get("first_due_on"),
            row["slipped_days"],
        )


class CoverageOut(msgspec.Struct):
    finding_id: int
    regulation: str
    actions: list[str]
    covered: bool


class ThemeProgress(msgspec.Struct):
    theme: str
    total: int
    finished: int
    verified: int
    percent: int


class PlanOut(msgspec.Struct):
    actions: list[ActionOut]
    coverage: list[CoverageOut]
    uncovered: int
    progress: list[ThemeProgress]
    percent_done: int
    overdue: int
    due_this_week: int


class ChosenAction(msgspec.Struct, forbid_unknown_fields=True):
    template_id: str
    title: Annotated[str, Meta(max_length=200)] | None = None
    due_on: dt.date | None = None
    owner: int | None = None
    finding_ids: list[int] | None = None


class CustomAction(msgspec.Struct, forbid_unknown_fields=True):
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    theme: choices.Theme
    due_on: dt.date
    owner: int | None = None
    finding_ids: list[int] = []
    steps: Annotated[str, Meta(max_length=5000)] = ""


class CommitBody(msgspec.Struct, forbid_unknown_fields=True):
    actions: list[ChosenAction] = []
    custom: list[CustomAction] = []


def _clean(item: msgspec.Struct) -> dict[str, Any]:
    return {k: v for k, v in msgspec.structs.asdict(item).items() if v is not None}


async def _plan_out(viewer, case_id: int) -> PlanOut:
    findings = await cases.findings_of(viewer, case_id)
    actions = await plans.actions_of(viewer, case_id)
    coverage = plans._coverage(findings, actions)
    summary = plans.summary(actions, clock.today())
    return PlanOut(
        actions=[ActionOut.of(a) for a in actions],
        coverage=[
            CoverageOut(
                c["finding"]["id"], c["finding"]["regulation"], c["actions"], bool(c["actions"])
            )
            for c in coverage
        ],
        uncovered=sum(1 for c in coverage if not c["actions"]),
        progress=[
            ThemeProgress(t["theme"], t["total"], t["finished"], t["verified"], t["percent"])
            for t in summary["themes"]
        ],
        percent_done=summary["percent"],
        overdue=len(summary["overdue"]),
        due_this_week=len(summary["due_this_week"]),
    )


@get(
    "/cases/{case_id:int}/plan",
    summary="The case's action plan and what each finding is answered by",
    raises=ERRORS,
)
async def get_plan(viewer: CurrentViewer, case_id: Id) -> PlanOut:
    return await _plan_out(viewer, case_id)


@get(
    "/cases/{case_id:int}/plan/proposals",
    summary="Playbook actions that answer the findings and are not yet in the plan, ranked",
    raises=WRITE_ERRORS,
)
async def get_proposals(viewer: CurrentViewer, case_id: Id) -> list[ProposalOut]:
    view = await plans.builder(viewer, case_id)
    return [
        ProposalOut(
            p.template.id,
            p.template.theme,
            p.template.title,
            list(p.template.steps),
            p.template.why,
            p.template.owner_role,
            p.template.due_days,
            list(p.template.evidence),
            p.template.measure,
            list(p.finding_ids),
            p.score,
            list(p.reasons),
        )
        for p in view["proposals"]
    ]


@post(
    "/cases/{case_id:int}/plan/actions",
    summary="Add chosen playbook actions (adapted) and custom actions, all or nothing",
    raises=WRITE_ERRORS,
)
async def commit_plan(viewer: CurrentViewer, case_id: Id, data: JSONBody[CommitBody]) -> PlanOut:
    await plans.commit(
        viewer, case_id, [_clean(a) for a in data.actions], [_clean(c) for c in data.custom]
    )
    return await _plan_out(viewer, case_id)


ROUTES = [get_plan, get_proposals, commit_plan]


class NoteOut(msgspec.Struct):
    author: str
    at: dt.datetime
    text: str


class ActionDetail(msgspec.Struct):
    action: ActionOut
    case_id: int
    steps: list[str]
    why: str
    evidence_expected: list[str]
    measure: str | None
    blocked_reason: str
    dropped_reason: str
    verified_on: dt.date | None
    verification_note: str
    notes: list[NoteOut]


class ActionPatch(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    status: choices.ActionStatus | msgspec.UnsetType = msgspec.UNSET
    reason: Annotated[str, Meta(max_length=2000)] | msgspec.UnsetType = msgspec.UNSET
    evidence: Annotated[str, Meta(max_length=5000)] | msgspec.UnsetType = msgspec.UNSET
    note: Annotated[str, Meta(max_length=5000)] | msgspec.UnsetType = msgspec.UNSET
    owner: int | None | msgspec.UnsetType = msgspec.UNSET
    due_on: dt.date | msgspec.UnsetType = msgspec.UNSET
    title: Annotated[str, Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET


class BulkBody(msgspec.Struct, forbid_unknown_fields=True):
    action_ids: list[int]
    owner: int | None = None
    shift_days: int | None = None


class BulkOut(msgspec.Struct):
    changed: int


def _detail(row: dict[str, Any]) -> ActionDetail:
    return ActionDetail(
        action=ActionOut.of(row),
        case_id=row["case_id"],
        steps=list(row["steps"] or []),
        why=row["why"],
        evidence_expected=list(row["evidence_expected"] or []),
        measure=row["measure"],
        blocked_reason=row["blocked_reason"],
        dropped_reason=row["dropped_reason"],
        verified_on=row["verified_on"],
        verification_note=row["verification_note"],
        notes=[NoteOut(n["author_name"], n["at"], n["text"]) for n in row["notes"]],
    )


@get("/actions/{action_id:int}", summary="One action with its notes", raises=ERRORS)
async def get_action(viewer: CurrentViewer, action_id: Id) -> ActionDetail:
    from improve.plans import actions

    return _detail(await actions.get_action(viewer, action_id))


@patch(
    "/actions/{action_id:int}",
    summary="Change an action's status, owner, due date or title, or add a note (send the "
    "version you read; verification needs evidence and someone other than the owner)",
    raises=WRITE_ERRORS,
)
async def patch_action(
    viewer: CurrentViewer, action_id: Id, data: JSONBody[ActionPatch]
) -> ActionDetail:
    from improve.plans import actions

    changes = {
        f: getattr(data, f)
        for f in data.__struct_fields__
        if f != "version" and getattr(data, f) is not msgspec.UNSET
    }
    return _detail(await actions.update(viewer, action_id, changes, version=data.version))


@post(
    "/cases/{case_id:int}/plan/bulk",
    summary="Reassign or move the due dates of several actions at once, all or nothing",
    raises=WRITE_ERRORS,
)
async def bulk_change(viewer: CurrentViewer, case_id: Id, data: JSONBody[BulkBody]) -> BulkOut:
    from improve.plans import actions

    changed = await actions.bulk(
        viewer, case_id, data.action_ids, owner=data.owner, shift_days=data.shift_days
    )
    return BulkOut(changed)


ROUTES += [get_action, patch_action, bulk_change]


class MyActionOut(msgspec.Struct):
    id: int
    case_id: int
    service: str
    title: str
    theme: str
    due_on: dt.date
    status: str
    overdue: bool


class MyActions(msgspec.Struct):
    to_do: list[MyActionOut]
    to_verify: list[MyActionOut]
    finished: list[MyActionOut]


def _mine(rows: list[dict[str, Any]]) -> list[MyActionOut]:
    return [
        MyActionOut(
            r["id"],
            r["case_id"],
            r["service_name"],
            r["title"],
            r["theme"],
            r["due_on"],
            r["status"],
            r["overdue"],
        )
        for r in rows
    ]


@get(
    "/me/actions",
    summary="The caller's own actions in open cases, and actions waiting for them to verify",
    raises=ERRORS,
)
async def my_actions(viewer: CurrentViewer) -> MyActions:
    found = await plans.my_actions(viewer)
    return MyActions(_mine(found["mine"]), _mine(found["to_verify"]), _mine(found["finished"]))


class TemplateOut(msgspec.Struct):
    id: str
    title: str
    steps: list[str]
    why: str
    owner_role: str
    due_days: int
    evidence: list[str]
    measure: str | None
    regulations: list[str]
    quality_statements: list[str]


class PlaybookOut(msgspec.Struct):
    id: str
    theme: str
    title: str
    version: int
    summary: str
    own: bool
    actions: list[TemplateOut]


def _book(book, own: bool) -> PlaybookOut:
    return PlaybookOut(
        book.id,
        book.theme,
        book.title,
        book.version,
        book.summary,
        own,
        [
            TemplateOut(
                a.id,
                a.title,
                list(a.steps),
                a.why,
                a.owner_role,
                a.due_days,
                list(a.evidence),
                a.measure,
                list(a.regulations),
                list(a.quality_statements),
            )
            for a in book.actions
        ],
    )


@get(
    "/playbooks", summary="The shipped playbooks and the caller's organisation's own", raises=ERRORS
)
async def list_playbooks(viewer: CurrentViewer) -> list[PlaybookOut]:
    from improve.plans import org_playbooks, playbooks

    return [
        *(_book(b, False) for b in playbooks.standard().values()),
        *(_book(b, True) for b in await org_playbooks.visible_to(viewer)),
    ]


@get("/playbooks/{playbook_id:str}", summary="One playbook", raises=ERRORS)
async def get_playbook(viewer: CurrentViewer, playbook_id: FromPath[str]) -> PlaybookOut:
    from improve.plans import org_playbooks, playbooks

    book = await org_playbooks.get(viewer, playbook_id)
    return _book(book, book.id not in playbooks.standard())


ROUTES += [my_actions, list_playbooks, get_playbook]


@get(
    "/cases/{case_id:int}/plan/export",
    summary="The action plan as CSV, laid out as providers send plans to CQC",
    raises=ERRORS,
    media_type="text/csv",
)
async def export_plan(viewer: CurrentViewer, case_id: Id) -> Response:
    body = await plans.plan_csv(viewer, case_id)
    return csv_download(body, f"case-{case_id}-action-plan.csv", for_spreadsheets=False)


ROUTES += [export_plan]
