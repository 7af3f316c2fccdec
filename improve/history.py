"""The append-only history of cases and their children.

`record()` is called inside the same transaction as the change it describes, so a
change and its history commit or roll back together. Nothing updates or deletes a
row (database triggers refuse it too).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from improve import access, clock
from improve.access import Viewer
from improve.cases.tables import AuditEvent
from improve.exports import to_csv

# What the history is about, as the activity page offers it to filter by.
KINDS = {
    "case": "The case",
    "finding": "Findings",
    "action": "Actions",
    "evidence": "Evidence",
    "review": "Progress reviews",
    "rating": "Ratings",
    "monitoring": "Monitoring levels",
    "visit": "Monitoring visits",
    "self_assessment": "Self-assessments",
}

FEED_COLUMNS = (
    AuditEvent.id,
    AuditEvent.at,
    AuditEvent.actor_name,
    AuditEvent.entity,
    AuditEvent.entity_id,
    AuditEvent.action,
    AuditEvent.summary,
    AuditEvent.before,
    AuditEvent.after,
)


def jsonable(value: Any) -> Any:
    """Dates, enums and nested values in a form JSON columns accept."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that differ, before and after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


async def record(
    *,
    actor: Viewer | None,
    service_id: int,
    case_id: int | None,
    entity: str,
    entity_id: int | None,
    action: str,
    summary: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            at=clock.now(),
            actor=actor.user_id if actor and actor.user_id > 0 else None,  # 0: the CLI
            actor_name=actor.name if actor else "improve",
            service=service_id,
            case=case_id,
            entity=entity,
            entity_id=entity_id,
            action=action,
            summary=summary[:300],
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )


def _scoped(
    viewer: Viewer, case_id: int, entity: str = "", action: str = "", entity_id: int | None = None
):
    where = (AuditEvent.case == case_id) & AuditEvent.service.is_in(
        access.visible_service_ids(viewer)
    )
    if entity:
        where &= AuditEvent.entity == entity
    if entity_id is not None:
        where &= AuditEvent.entity_id == entity_id
    if action:
        where &= AuditEvent.action == action
    return where


async def feed(
    viewer: Viewer,
    case_id: int,
    *,
    entity: str = "",
    action: str = "",
    entity_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The case's activity, newest first (stable order: time, then id); entity and
    entity_id narrow it to one kind of thing, or one thing (an action's own history)."""
    return await (
        AuditEvent.select(*FEED_COLUMNS)
        .where(_scoped(viewer, case_id, entity, action, entity_id))
        .order_by(AuditEvent.at, ascending=False)
        .order_by(AuditEvent.id, ascending=False)
        .limit(limit)
        .offset(offset)
        .output(load_json=True)
    )


async def count(viewer: Viewer, case_id: int, *, entity: str = "", action: str = "") -> int:
    return await AuditEvent.count().where(_scoped(viewer, case_id, entity, action))


async def export_csv(viewer: Viewer, case_id: int, *, entity: str = "", action: str = "") -> str:
    rows = await (
        AuditEvent.select(*FEED_COLUMNS)
        .where(_scoped(viewer, case_id, entity, action))
        .order_by(AuditEvent.at)
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )
    return to_csv(
        ["when", "who", "what", "id", "action", "summary", "before", "after"],
        (
            (
                r["at"].isoformat(),
                r["actor_name"],
                r["entity"],
                r["entity_id"],
                r["action"],
                r["summary"],
                r["before"],
                r["after"],
            )
            for r in rows
        ),
    )
