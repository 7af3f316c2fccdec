"""What the people at a progress review look at before they give each theme its colour:
the plan by theme beside the colour each theme was given last time, and what finished,
slipped or stuck since then. Shown beside the review form; the full picture is the
service's briefing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import clock
from improve.plans import domain as plans
from improve.plans.tables import Action
from improve.reviews import domain as reviews


def compose(
    actions: list[dict[str, Any]], last_review: dict[str, Any] | None, today: dt.date
) -> dict[str, Any]:
    """The brief from the plan's actions (with done_on and verified_on) and the last
    review held, if any. Pure."""
    plan = plans.summary(actions, today)
    last_rag = (last_review or {}).get("rag") or {}
    since = last_review["held_on"] if last_review else None

    def finished_since(action: dict[str, Any]) -> bool:
        on = action.get("verified_on") or action.get("done_on")
        return action["status"] in plans.FINISHED and (since is None or (on and on > since))

    return {
        "plan": plan,
        "themes": [{**t, "last_rag": last_rag.get(t["theme"], "")} for t in plan["themes"]],
        "last_review": last_review,
        "since": since,
        "finished_since": [a for a in actions if finished_since(a)],
    }


async def brief_of(case_id: int) -> dict[str, Any]:
    """For a case the caller has already found in the viewer's scope. Three queries: its
    actions, their findings, the last review."""
    actions = await plans.actions_in(case_id, (*plans.PROGRESS_COLUMNS, Action.done_on))
    last = await reviews.recent_of(case_id, limit=1)
    return compose(actions, last[0] if last else None, clock.today())
