"""Pages: the action plan with its coverage, and the plan builder."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from improve import framework
from improve.accounts.tables import Role
from improve.cases import domain as cases
from improve.errors import Invalid
from improve.evidence import domain as evidence
from improve.plans import domain as plans
from improve.plans.playbooks import OWNER_ROLES, THEMES
from improve.plans.proposals import STRONG
from improve.services.tables import Service
from improve.web.auth import CurrentViewer
from improve.web.downloads import csv_download
from improve.web.params import Id

CUSTOM_ROWS = 3


async def _people(case: dict[str, Any]) -> list[dict[str, Any]]:
    service = await Service.select(Service.provider).where(Service.id == case["service"]).first()
    return await plans.provider_people(service["provider"])


async def _plan_page(
    viewer, case_id: int, errors: dict | None = None, status: int = 200
) -> Template:
    case = await cases.get_case(viewer, case_id)
    findings = await cases.findings_of(viewer, case_id)
    actions = await plans.actions_of(viewer, case_id)
    from improve.measures.domain import action_effects  # measures read plans, not back

    return Template(
        "plans/plan.html",
        context={
            "viewer": viewer,
            "case": case,
            "actions": actions,
            "orphaned": plans.owners_left(actions),
            "coverage": plans._coverage(findings, actions),
            "THEMES": THEMES,
            "STATUSES": plans.ACTION_STATUSES,
            "framework": framework.get("saf"),
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "people": await _people(case),
            "errors": errors or {},
            "effects": await action_effects(case["service"], actions),
        },
        status_code=status,
    )


@get("/cases/{case_id:int}/plan", include_in_schema=False)
async def plan_page(viewer: CurrentViewer, case_id: Id) -> Template:
    return await _plan_page(viewer, case_id)


async def _builder_page(
    viewer,
    case_id: int,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    view = await plans.builder(viewer, case_id)
    return Template(
        "plans/builder.html",
        context={
            "viewer": viewer,
            **view,
            "THEMES": THEMES,
            "OWNER_ROLES": OWNER_ROLES,
            "people": await _people(view["case"]),
            "errors": errors or {},
            "values": values or {},
            "custom_rows": range(1, CUSTOM_ROWS + 1),
            "framework": framework.get("saf"),
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "timedelta": dt.timedelta,
            "strong": STRONG,
        },
        status_code=status,
    )


@get("/cases/{case_id:int}/plan/build", include_in_schema=False)
async def builder_page(viewer: CurrentViewer, case_id: Id) -> Template:
    return await _builder_page(viewer, case_id)


def _choices(form: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    chosen, labels = [], []
    for template_id in form.getall("pick") if "pick" in form else []:
        key = template_id.replace(".", "_")
        chosen.append(
            {
                "template_id": template_id,
                "title": form.get(f"title_{key}"),
                "due_on": form.get(f"due_{key}") or None,
                "owner": form.get(f"owner_{key}") or None,
            }
        )
        labels.append(form.get(f"title_{key}") or template_id)
    custom = []
    for n in range(1, CUSTOM_ROWS + 1):
        title = (form.get(f"custom_{n}_title") or "").strip()
        if not title:
            continue
        custom.append(
            {
                "title": title,
                "theme": form.get(f"custom_{n}_theme"),
                "due_on": form.get(f"custom_{n}_due") or None,
                "owner": form.get(f"custom_{n}_owner") or None,
                "finding_ids": form.getall(f"custom_{n}_findings")
                if f"custom_{n}_findings" in form
                else [],
            }
        )
    return chosen, custom, labels


@post("/cases/{case_id:int}/plan/build", include_in_schema=False)
async def commit_plan(request: Request, viewer: CurrentViewer, case_id: Id) -> Template | Redirect:
    await cases.editable_case(viewer, case_id)
    form = await request.form()
    chosen, custom, labels = _choices(form)
    try:
        await plans.commit(viewer, case_id, chosen, custom)
    except Invalid as exc:
        readable = {}
        for key, message in exc.errors.items():
            if key.startswith("actions[") and "]" in key:
                n = int(key[len("actions[") : key.index("]")])
                key = f"'{labels[n - 1]}' {key.split('.', 1)[1]}"
            elif key.startswith("custom[") and "]" in key:
                n = int(key[len("custom[") : key.index("]")])
                key = f"Your action {n} {key.split('.', 1)[1]}"
            readable[key] = message
        values = {k: (form.getall(k) if k == "pick" else v) for k, v in form.items()}
        return await _builder_page(viewer, case_id, readable, values, status=400)
    return Redirect(f"/cases/{case_id}/plan", status_code=303)


ROUTES = [plan_page, builder_page, commit_plan]


async def _action_page(
    viewer,
    action_id: int,
    errors: dict | None = None,
    status: int = 200,
    withdrawing: int | None = None,
) -> Template:
    from improve.plans import actions

    action = await actions.get_action(viewer, action_id)
    findings = {f["id"]: f for f in await cases.findings_of(viewer, action["case_id"])}
    people = await _people(action["case"])
    names = {p["id"]: p["name"] for p in people}
    return Template(
        "plans/action.html",
        context={
            "viewer": viewer,
            "action": action,
            "case": action["case"],
            "findings": [findings[i] for i in action["finding_ids"] if i in findings],
            "people": people,
            "history": await actions.history_of(viewer, action, names),
            "STATUSES": plans.ACTION_STATUSES,
            "moves": actions.MOVES.get(action["status"], ()),
            "THEMES": THEMES,
            "errors": errors or {},
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "evidence": await evidence.for_action(viewer, action_id),
            "withdrawing": withdrawing,
        },
        status_code=status,
    )


@get("/actions/{action_id:int}", include_in_schema=False)
async def action_page(viewer: CurrentViewer, action_id: Id) -> Template:
    return await _action_page(viewer, action_id)


@post("/actions/{action_id:int}", include_in_schema=False)
async def update_action(
    request: Request, viewer: CurrentViewer, action_id: Id
) -> Template | Redirect:
    from improve.errors import Conflict
    from improve.plans import actions

    await actions.get_action(viewer, action_id)  # scope before reading the body
    form = await request.form()
    data = {k: v for k, v in form.items() if k not in ("_csrf_token", "version")}
    if not data.get("owner") and "owner" in data and form.get("keep_owner"):
        data.pop("owner")
    try:
        await actions.update(
            viewer, action_id, data, version=cases.validate_version(form.get("version"))
        )
    except Invalid as exc:
        return await _action_page(viewer, action_id, exc.errors, 400)
    except Conflict as exc:
        return await _action_page(viewer, action_id, {"version": str(exc)}, 409)
    return Redirect(f"/actions/{action_id}", status_code=303)


@post("/cases/{case_id:int}/plan/bulk", include_in_schema=False)
async def bulk_change(request: Request, viewer: CurrentViewer, case_id: Id) -> Template | Redirect:
    from improve.plans import actions

    await cases.editable_case(viewer, case_id)
    form = await request.form()
    try:
        ids = [int(i) for i in (form.getall("action") if "action" in form else [])]
        shift = str(form.get("shift_days") or "").strip()
        await actions.bulk(
            viewer,
            case_id,
            ids,
            owner=form.get("owner") or None,
            shift_days=int(shift) if shift else None,
        )
    except ValueError:
        return await _plan_page(viewer, case_id, {"shift_days": "must be a whole number"}, 400)
    except Invalid as exc:
        return await _plan_page(viewer, case_id, exc.errors, 400)
    return Redirect(f"/cases/{case_id}/plan", status_code=303)


ROUTES += [action_page, update_action, bulk_change]


async def _playbooks_page(
    viewer, errors: dict | None = None, message: str = "", status: int = 200
) -> Template:
    from improve.plans import org_playbooks, playbooks

    return Template(
        "plans/playbooks.html",
        context={
            "viewer": viewer,
            "standard": list(playbooks.standard().values()),
            "own": await org_playbooks.visible_to(viewer),
            "errors": errors or {},
            "message": message,
            "THEMES": THEMES,
        },
        status_code=status,
    )


@get("/playbooks", include_in_schema=False)
async def playbooks_page(viewer: CurrentViewer) -> Template:
    return await _playbooks_page(viewer)


@post("/playbooks", include_in_schema=False)
async def upload_playbook(request: Request, viewer: CurrentViewer) -> Template:
    from improve.errors import Forbidden
    from improve.plans import org_playbooks

    if viewer.role != Role.QUALITY_LEAD:
        raise Forbidden("Provider quality leads add their organisation's playbooks")
    form = await request.form()
    upload = form.get("file")
    try:
        if upload is None or not hasattr(upload, "read"):
            raise Invalid({"file": "choose a playbook file (.yaml)"})
        content = await upload.read(org_playbooks.MAX_BYTES + 1)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid({"file": "is not a UTF-8 text file"}) from None
        result = await org_playbooks.upload(viewer, text, upload.filename or "playbook.yaml")
    except Invalid as exc:
        return await _playbooks_page(viewer, exc.errors, status=400)
    message = (
        f"Playbook {result['playbook_id']} version {result['version']} added."
        if result["created"]
        else "That version was already stored; nothing changed."
    )
    return await _playbooks_page(viewer, message=message)


@get("/playbooks/{playbook_id:str}", include_in_schema=False)
async def playbook_page(viewer: CurrentViewer, playbook_id: FromPath[str]) -> Template:
    from improve.plans import org_playbooks

    book = await org_playbooks.get(viewer, playbook_id)
    return Template(
        "plans/playbook.html",
        context={
            "viewer": viewer,
            "book": book,
            "THEMES": THEMES,
            "OWNER_ROLES": OWNER_ROLES,
            "framework": framework.get("saf"),
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        },
    )


ROUTES += [playbooks_page, upload_playbook, playbook_page]


@get("/my/actions", include_in_schema=False)
async def my_actions(viewer: CurrentViewer) -> Template:
    return Template(
        "plans/my_actions.html",
        context={
            "viewer": viewer,
            **await plans.my_actions(viewer),
            "STATUSES": plans.ACTION_STATUSES,
        },
    )


@get("/cases/{case_id:int}/plan/print", include_in_schema=False)
async def print_plan(viewer: CurrentViewer, case_id: Id) -> Template:
    data = await plans.printable(viewer, case_id)
    return Template(
        "plans/print.html",
        context={
            "viewer": viewer,
            **data,
            "framework": framework.get("saf"),
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
            "STATUSES": plans.ACTION_STATUSES,
            "OWNER_ROLES": OWNER_ROLES,
            "how": plans.how_we_will_know,
            "THEMES": THEMES,
        },
    )


@get("/cases/{case_id:int}/plan.csv", include_in_schema=False)
async def plan_csv(viewer: CurrentViewer, case_id: Id) -> Response:
    body = await plans.plan_csv(viewer, case_id)
    return csv_download(body, f"case-{case_id}-action-plan.csv")


ROUTES += [my_actions, print_plan, plan_csv]
