"""The plan builder: propose playbook actions for a case's findings, let the manager
choose and adapt them, and commit the plan in one transaction with its history.

Re-running the builder after new findings only adds proposals: actions already in the
plan are never touched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import clock, history
from improve.access import Viewer
from improve.accounts.tables import Role, User
from improve.cases import domain as cases
from improve.cases.stages import Stage
from improve.cases.tables import Case
from improve.db import write_tx
from improve.errors import Invalid, parse_date
from improve.plans import playbooks as playbook_files
from improve.plans.proposals import FindingRef, Proposal, propose
from improve.plans.statuses import ACTION_STATUSES, DROPPED, FINISHED, SETTLED
from improve.plans.tables import (
    Action,
    ActionFinding,
    Plan,
    action_ids_of_case,
    plan_ids_of_case,
    plan_ids_of_cases,
)
from improve.services.tables import Service

MAX_CUSTOM = 20

ACTION_COLUMNS = (
    Action.id,
    Action.plan,
    Action.template_id,
    Action.playbook_id,
    Action.playbook_version,
    Action.theme,
    Action.title,
    Action.steps,
    Action.why,
    Action.evidence_expected,
    Action.measure,
    Action.owner,
    Action.owner.name.as_alias("owner_name"),
    Action.owner.active.as_alias("owner_active"),
    Action.owner_role,
    Action.due_on,
    Action.first_due_on,
    Action.status,
    Action.blocked_reason,
    Action.dropped_reason,
    Action.verified_on,
    Action.version,
)


# What a progress summary (plans.summary: the case page, the briefing) shows of each
# action: not its steps, reasons and expected evidence, fifty times over
PROGRESS_COLUMNS = (
    Action.id,
    Action.theme,
    Action.title,
    Action.owner.name.as_alias("owner_name"),
    Action.owner.active.as_alias("owner_active"),
    Action.due_on,
    Action.first_due_on,
    Action.status,
    Action.blocked_reason,
    Action.dropped_reason,
    Action.verified_on,
)


def finding_refs(findings: list[dict[str, Any]]) -> list[FindingRef]:
    return [
        FindingRef(f["id"], f["regulation"], f["key_question"], tuple(f["items"] or ()))
        for f in findings
    ]


async def plan_of(case_id: int) -> dict[str, Any] | None:
    return await Plan.select().where(Plan.case == case_id).output(load_json=True).first()


async def actions_of(viewer: Viewer, case_id: int) -> list[dict[str, Any]]:
    """The plan's actions with the findings each answers and whether it is overdue
    (derived from the due date and status, never stored). Two queries."""
    await cases.get_case(viewer, case_id)
    return await actions_in(case_id)


async def actions_in(case_id: int, columns=ACTION_COLUMNS) -> list[dict[str, Any]]:
    """The actions of a case the caller has already found in the viewer's scope."""
    rows = (
        await Action.select(*columns)
        .where(Action.plan.is_in(plan_ids_of_case(case_id)))
        .order_by(Action.due_on)
        .order_by(Action.id)
        .output(load_json=True)
    )
    links = await ActionFinding.select(ActionFinding.action, ActionFinding.finding).where(
        ActionFinding.action.is_in(action_ids_of_case(case_id))
    )
    by_action: dict[int, list[int]] = {}
    for link in links:
        by_action.setdefault(link["action"], []).append(link["finding"])
    today = clock.today()
    for row in rows:
        row["finding_ids"] = by_action.get(row["id"], [])
        derive(row, today)
    return rows


def derive(row: dict[str, Any], today) -> None:
    """What an action's row shows but never stores: overdue, whether its owner has left
    (an account made inactive: nobody is reminded of it), and its theme's name."""
    row["overdue"] = row["due_on"] < today and row["status"] not in SETTLED
    row["owner_left"] = bool(row.get("owner_name")) and not row.get("owner_active", True)
    first = row.get("first_due_on")
    late = (row["due_on"] - first).days if first and row["status"] not in SETTLED else 0
    row["slipped_days"] = max(late, 0)  # moved later than first agreed, while still open
    row["theme_label"] = playbook_files.THEMES.get(row["theme"], row["theme"])


def answered_by(actions: list[dict[str, Any]]) -> dict[int, list[str]]:
    """Each finding's answering actions' titles; a dropped action answers nothing."""
    out: dict[int, list[str]] = {}
    for action in actions:
        if action["status"] == DROPPED:
            continue
        for finding_id in action["finding_ids"]:
            out.setdefault(finding_id, []).append(action["title"])
    return out


async def builder(viewer: Viewer, case_id: int) -> dict[str, Any]:
    """What the plan builder page shows: findings, proposals not yet in the plan, and
    the coverage of every finding."""
    case = await cases.editable_case(viewer, case_id)
    service = (
        await Service.select(Service.service_type, Service.provider)
        .where(Service.id == case["service"])
        .first()
    )
    findings = cases.standing(await cases.findings_of(viewer, case_id))
    actions = await actions_of(viewer, case_id)
    taken = {a["template_id"] for a in actions if a["template_id"]}
    refs = finding_refs(findings)
    books = await available_playbooks(service["provider"])
    ranked = propose(books, refs, service["service_type"], taken)
    return {
        "case": case,
        "findings": findings,
        "actions": actions,
        "proposals": ranked,
        "coverage": _coverage(findings, actions),
        "start": (await plan_of(case_id) or {}).get("started_on") or clock.today(),
    }


def _coverage(findings: list[dict[str, Any]], actions: list[dict[str, Any]]) -> list[dict]:
    """Each standing finding and the actions answering it (withdrawn ones need none)."""
    titles = answered_by(actions)
    return [{"finding": f, "actions": titles.get(f["id"], [])} for f in cases.standing(findings)]


async def available_playbooks(provider_id: int) -> list[playbook_files.Playbook]:
    """The shipped playbooks and the provider's own (their newest versions)."""
    from improve.plans import org_playbooks

    return [*playbook_files.standard().values(), *await org_playbooks.latest_for(provider_id)]


def _templates(
    books: list[playbook_files.Playbook],
) -> dict[str, tuple[playbook_files.ActionTemplate, playbook_files.Playbook]]:
    return {a.id: (a, b) for b in books for a in b.actions}


async def provider_people(provider_id: int) -> list[dict[str, Any]]:
    """The people who may own actions of the provider's plans: its active registered
    managers and quality leads, by name."""
    return (
        await User.select(User.id, User.name, User.role)
        .where(
            (User.organisation == provider_id)
            & (User.active == True)  # noqa: E712
            & User.role.is_in([Role.REGISTERED_MANAGER, Role.QUALITY_LEAD])
        )
        .order_by(User.name)
    )


async def _owners(provider_id: int) -> set[int]:
    return {r["id"] for r in await provider_people(provider_id)}


async def commit(
    viewer: Viewer, case_id: int, chosen: list[dict[str, Any]], custom: list[dict[str, Any]] = ()
) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Adds the chosen playbook actions (adapted) and custom actions to the case's plan,
    all in one transaction. Each item may carry title, due_on, owner and finding_ids.
    Returns the plan's actions."""
    case = await cases.editable_case(viewer, case_id)
    if case["stage"] == Stage.CLOSED:
        raise Invalid({"case": "the case is closed"})
    if not chosen and not custom:
        raise Invalid({"actions": "choose at least one action"})
    if len(custom) > MAX_CUSTOM:
        raise Invalid({"custom": f"at most {MAX_CUSTOM} custom actions at once"})
    service = (
        await Service.select(Service.provider, Service.service_type)
        .where(Service.id == case["service"])
        .first()
    )
    finding_rows = cases.standing(await cases.findings_of(viewer, case_id))
    findings = {f["id"] for f in finding_rows}
    owners = await _owners(service["provider"])
    existing = await plan_of(case_id)
    start = existing["started_on"] if existing else clock.today()
    books = await available_playbooks(service["provider"])
    templates = _templates(books)
    taken = {a["template_id"] for a in await actions_of(viewer, case_id) if a["template_id"]}
    defaults = proposal_defaults(
        propose(
            books,
            finding_refs(finding_rows),
            service["service_type"],
            taken,
        )
    )
    rows: list[tuple[dict[str, Any], list[int]]] = []
    errors: dict[str, str] = {}
    for n, item in enumerate(chosen, 1):
        try:
            rows.append(_from_template(item, templates, taken, findings, owners, start, defaults))
        except Invalid as exc:
            errors.update({f"actions[{n}].{k}": v for k, v in exc.errors.items()})
    for n, item in enumerate(custom, 1):
        try:
            rows.append(_custom(item, findings, owners, start))
        except Invalid as exc:
            errors.update({f"custom[{n}].{k}": v for k, v in exc.errors.items()})
    if errors:
        raise Invalid(errors)
    versions = {b.id: b.version for b in books}
    async with write_tx():
        if existing:
            plan_id = existing["id"]
        else:
            created = await Plan.insert(
                Plan(
                    case=case_id,
                    started_on=start,
                    playbook_versions=versions,
                    created_by=viewer.user_id,
                    created_at=clock.now(),
                )
            ).returning(Plan.id)
            plan_id = created[0]["id"]
        for action, finding_ids in rows:
            inserted = await Action.insert(
                Action(plan=plan_id, first_due_on=action["due_on"], **action)
            ).returning(Action.id)
            action_id = inserted[0]["id"]
            if finding_ids:
                await ActionFinding.insert(
                    *[ActionFinding(action=action_id, finding=f) for f in finding_ids]
                )
            await history.record(
                actor=viewer,
                service_id=case["service"],
                case_id=case_id,
                entity="action",
                entity_id=action_id,
                action="added",
                summary=f"Action added: {action['title']}",
                after={
                    "title": action["title"],
                    "due_on": action["due_on"],
                    "template": action["template_id"],
                    "findings": finding_ids,
                },
            )
        if case["stage"] == Stage.ASSESSING:
            await cases.set_stage_in_tx(
                viewer, case, Stage.PLAN_DRAFTED, "The plan was drafted from the findings"
            )
    return await actions_of(viewer, case_id)


def _finding_ids(item: dict[str, Any], findings: set[int], default: tuple[int, ...]) -> list[int]:
    raw = item.get("finding_ids")
    if raw is None:
        return list(default)
    try:
        ids = sorted({int(i) for i in raw})
    except (TypeError, ValueError):
        raise Invalid({"finding_ids": "must be finding ids"}) from None
    foreign = [i for i in ids if i not in findings]
    if foreign:
        raise Invalid({"finding_ids": f"not findings of this case: {foreign}"})
    return ids


def _owner(item: dict[str, Any], owners: set[int]) -> int | None:
    raw = item.get("owner")
    if raw in (None, "", 0, "0"):
        return None
    try:
        owner = int(raw)
    except (TypeError, ValueError):
        raise Invalid({"owner": "choose a person"}) from None
    if owner not in owners:
        raise Invalid({"owner": "must be a registered manager or quality lead of the provider"})
    return owner


def _title(value: Any, default: str = "") -> str:
    title = " ".join(str(value or default).split())
    if not title:
        raise Invalid({"title": "is required"})
    if len(title) > 200:
        raise Invalid({"title": "must be at most 200 characters"})
    return title


def _from_template(
    item: dict[str, Any],
    templates: dict,
    taken: set[str],
    findings: set[int],
    owners: set[int],
    start: dt.date,
    defaults: dict[str, tuple[int, ...]],
) -> tuple[dict[str, Any], list[int]]:
    template_id = str(item.get("template_id") or "")
    if template_id not in templates:
        raise Invalid({"template_id": f"no playbook action '{template_id}'"})
    if template_id in taken:
        raise Invalid({"template_id": f"'{template_id}' is already in the plan"})
    template, book = templates[template_id]
    due = parse_date(item.get("due_on"), "due_on") or start + dt.timedelta(days=template.due_days)
    default = defaults.get(template_id, ())
    return dict(
        template_id=template.id,
        playbook_id=book.id,
        playbook_version=book.version,
        theme=template.theme,
        title=_title(item.get("title"), template.title),
        steps=list(template.steps),
        why=template.why,
        evidence_expected=list(template.evidence),
        measure=template.measure,
        owner=_owner(item, owners),
        owner_role=template.owner_role,
        due_on=due,
        status="not_started",
        created_at=clock.now(),
    ), _finding_ids(item, findings, default)


def _custom(
    item: dict[str, Any], findings: set[int], owners: set[int], start: dt.date
) -> tuple[dict[str, Any], list[int]]:
    theme = str(item.get("theme") or "")
    if theme not in playbook_files.THEMES:
        raise Invalid({"theme": "choose one of the five themes"})
    due = parse_date(item.get("due_on"), "due_on")
    if due is None:
        raise Invalid({"due_on": "is required"})
    steps = [s.strip() for s in str(item.get("steps") or "").splitlines() if s.strip()]
    return dict(
        template_id=None,
        playbook_id="",
        playbook_version=0,
        theme=theme,
        title=_title(item.get("title")),
        steps=steps,
        why=str(item.get("why") or ""),
        evidence_expected=[],
        measure=None,
        owner=_owner(item, owners),
        owner_role="registered_manager",
        due_on=due,
        status="not_started",
        created_at=clock.now(),
    ), _finding_ids(item, findings, ())


def proposal_defaults(proposals: list[Proposal]) -> dict[str, tuple[int, ...]]:
    """The findings each proposal answers, used when the manager does not change them."""
    return {p.template.id: p.finding_ids for p in proposals}


def owners_left(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open actions whose owner has left: someone must give them a new owner."""
    return [a for a in actions if a.get("owner_left") and a["status"] not in SETTLED]


def summary(actions: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    """Progress per theme and overall, what is overdue and what is due this week.
    Dropped actions are listed apart and counted nowhere else."""
    week = today + dt.timedelta(days=7)
    dropped = [a for a in actions if a["status"] == DROPPED]
    actions = [a for a in actions if a["status"] != DROPPED]
    themes = []
    for theme, label in playbook_files.THEMES.items():
        rows = [a for a in actions if a["theme"] == theme]
        if rows:
            finished = sum(1 for a in rows if a["status"] in FINISHED)
            verified = sum(1 for a in rows if a["status"] == "verified")
            themes.append(
                {
                    "theme": theme,
                    "label": label,
                    "total": len(rows),
                    "finished": finished,
                    "verified": verified,
                    "percent": round(100 * finished / len(rows)),
                }
            )
    finished = sum(1 for a in actions if a["status"] in FINISHED)
    return {
        "themes": themes,
        "total": len(actions),
        "finished": finished,
        "verified": sum(1 for a in actions if a["status"] == "verified"),
        "percent": round(100 * finished / len(actions)) if actions else 0,
        "overdue": [a for a in actions if a["overdue"]],
        "due_this_week": [
            a for a in actions if today <= a["due_on"] <= week and a["status"] not in FINISHED
        ],
        "blocked": [a for a in actions if a["status"] == "blocked"],
        "slipped": [a for a in actions if a.get("slipped_days")],
        "dropped": dropped,
        "owners_left": owners_left(actions),
    }


async def my_actions(viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """The viewer's own actions in open cases, and done actions they could verify."""
    from improve import access

    open_cases = Case.select(Case.id).where(
        Case.service.is_in(access.visible_service_ids(viewer)) & (Case.stage != Stage.CLOSED)
    )
    in_scope = Action.plan.is_in(plan_ids_of_cases(open_cases))
    columns = (
        *ACTION_COLUMNS,
        Action.plan.case.as_alias("case_id"),
        Action.plan.case.service.name.as_alias("service_name"),
        Action.done_by,
    )
    mine = (
        await Action.select(*columns)
        .where(in_scope & (Action.owner == viewer.user_id))
        .order_by(Action.due_on)
        .order_by(Action.id)
    )
    to_verify: list[dict[str, Any]] = []
    if viewer.can_edit_services:
        to_verify = (
            await Action.select(*columns)
            .where(
                in_scope
                & (Action.status == "done")
                & ((Action.owner != viewer.user_id) | Action.owner.is_null())
                & ((Action.done_by != viewer.user_id) | Action.done_by.is_null())
            )
            .order_by(Action.due_on)
            .limit(100)
        )
    today = clock.today()
    for row in [*mine, *to_verify]:
        derive(row, today)
    return {
        "mine": [r for r in mine if r["status"] not in SETTLED],
        "finished": [r for r in mine if r["status"] in FINISHED],
        "to_verify": to_verify,
    }


async def printable(viewer: Viewer, case_id: int) -> dict[str, Any]:
    """The plan laid out as providers send it to CQC: for each breach, what we will do,
    who is responsible, by when, and how we will know it worked."""
    case = await cases.get_case(viewer, case_id)
    findings = cases.standing(await cases.findings_of(viewer, case_id))
    actions = await actions_of(viewer, case_id)
    kept = [a for a in actions if a["status"] != DROPPED]
    by_finding = {f["id"]: [a for a in kept if f["id"] in a["finding_ids"]] for f in findings}
    unlinked = [a for a in kept if not a["finding_ids"]]
    return {
        "case": case,
        "findings": findings,
        "by_finding": by_finding,
        "unlinked": unlinked,
        "dropped": [a for a in actions if a["status"] == DROPPED],
        "plan": await plan_of(case_id),
        "summary": summary(actions, clock.today()),
    }


def how_we_will_know(action: dict[str, Any]) -> str:
    parts = []
    if action.get("measure"):
        parts.append("Measure: " + action["measure"].replace("_", " "))
    if action.get("evidence_expected"):
        parts.append("Evidence: " + "; ".join(action["evidence_expected"]))
    return ". ".join(parts) or "Checked and verified by someone other than the owner."


def _action_cells(a: dict[str, Any] | None) -> list[str]:
    if a is None:
        return ["NO ACTION YET", "", "", "", "", "", ""]
    return [
        a["title"],
        playbook_files.THEMES.get(a["theme"], ""),
        a["owner_name"] or a["owner_role"].replace("_", " "),
        a["due_on"].isoformat(),
        ACTION_STATUSES.get(a["status"], ""),
        a["verified_on"].isoformat() if a["verified_on"] else "",
        how_we_will_know(a),
    ]


async def plan_csv(viewer: Viewer, case_id: int) -> str:
    from improve import framework
    from improve.exports import to_csv

    data = await printable(viewer, case_id)
    fw = framework.get("saf")
    rows = []
    for f in data["findings"]:
        reg = fw.regulations.get(f["regulation"])
        breach = f"Regulation {f['regulation']}" + (f": {reg.title}" if reg else "")
        for a in data["by_finding"][f["id"]] or [None]:
            rows.append([breach, f["description"], *_action_cells(a)])
    # actions that answer no finding (own actions, those added at a review) are part of
    # the plan too, as the printed plan shows
    rows += [["Other actions", "", *_action_cells(a)] for a in data["unlinked"]]
    # dropped actions stay on the record, with why, so the plan's changes can be followed
    rows += [
        ["Dropped from the plan", a["dropped_reason"], *_action_cells(a)] for a in data["dropped"]
    ]
    return to_csv(
        [
            "breach",
            "what was found",
            "what we will do",
            "theme",
            "who",
            "by when",
            "status",
            "verified on",
            "how we will know it worked",
        ],
        rows,
    )
