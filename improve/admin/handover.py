"""What a person holds that someone else must take on when they leave: the services
they are the registered manager of, and their open actions in open cases.

An inactive account logs in nowhere and is sent nothing, so what it held would slip
silently. The administrator's page for the person lists it, with links, before and after
they are made inactive. Two queries, whatever they hold.
"""

from __future__ import annotations

from typing import Any

from improve.cases.stages import Stage
from improve.plans.domain import SETTLED
from improve.plans.tables import Action
from improve.services.tables import Service


async def held_by(user_id: int) -> dict[str, list[dict[str, Any]]]:
    services = (
        await Service.select(Service.id, Service.name)
        .where(Service.manager == user_id)
        .order_by(Service.name)
    )
    actions = await Action.select(
        Action.plan.case.as_alias("case_id"),
        Action.plan.case.service.name.as_alias("service_name"),
    ).where(
        (Action.owner == user_id)
        & Action.status.not_in(list(SETTLED))
        & (Action.plan.case.stage != Stage.CLOSED)
    )
    cases: dict[int, dict[str, Any]] = {}
    for row in actions:
        case = cases.setdefault(row["case_id"], {**row, "open_actions": 0})
        case["open_actions"] += 1
    return {
        "services": services,
        "cases": sorted(cases.values(), key=lambda c: c["service_name"]),
    }
