"""Pages: the action plan with its coverage, and the plan builder."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from improve import framework
from improve.accounts.tables import Role, User
from improve.cases import domain as cases
from improve.errors import Invalid
from improve.plans import domain as plans
from improve.plans.playbooks import OWNER_ROLES, THEMES
from improve.plans.proposals import STRONG
from improve.services.tables import Service
from improve.web.auth import CurrentViewer

CUSTOM_ROWS = 3


async def _people(case: dict[str, Any]) -> list[dict[str, Any]]:
    service = await Service.select(Service.provider).where(Service.id == case["service"]).first()
    return (
        await User.select(User.id, User.name, User.role)
        .where(
            (User.organisation == service["provider"])
            & (User.active == True)  # noqa: E712
            & User.role.is_in([Role.REGISTERED_MANAGER, Role.QUALITY_LEAD])
        )
        .order_by(User.name)
    )


@get("/cases/{case_id:int}/plan", include_in_schema=False)
async def plan_page(viewer: CurrentViewer, case_id: FromPath[int]) -> Template:
    case = await cases.get_case(viewer, case_id)
    findings = await cases.findings_of(viewer, case_id)
    actions = await plans.actions_of(viewer, case_id)
    return Template(
        "plans/plan.html",
        context={
            "viewer": viewer,
            "case": case,
            "actions": actions,
            "coverage": plans._coverage(findings, actions),
            "THEMES": THEMES,
            "STATUSES": plans.ACTION_STATUSES,
            "framework": framework.get("saf"),
            "KEY_QUESTION_TITLES": framework.KEY_QUESTION_TITLES,
        },
    )


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
async def builder_page(viewer: CurrentViewer, case_id: FromPath[int]) -> Template:
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
async def commit_plan(
    request: Request, viewer: CurrentViewer, case_id: FromPath[int]
) -> Template | Redirect:
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
