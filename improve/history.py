"""The append-only history of cases and their children.

`record()` is called inside the same transaction as the change it describes, so a
change and its history commit or roll back together. Nothing deletes a row, and nothing
updates one but `record_evidence_withdrawal()`: withdrawn evidence's note, link and file
name are replaced by a marker in the history's copies, as the database triggers allow
and nothing else (see the migration evidence_2026_12_04t15_00_00_000000).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from improve import access, clock
from improve.access import Viewer
from improve.accounts.tables import Role, User
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


SUMMARY_MAX = 300  # AuditEvent.summary's length
# What withdrawn evidence's texts become in the history; the triggers accept this and
# nothing else in their place.
REDACTED = "[withdrawn]"
# The evidence texts an 'added' event copies (improve.evidence.domain.add), which may
# hold what should never have been shared: a resident's name, NHS number, birth date.
EVIDENCE_TEXTS = ("text", "url", "file_name")
# A commissioner's monitoring of a service (its level, its visits) is its own: another
# commissioner of the service does not see it, here as on the monitoring pages and the
# briefing. The provider's people see every commissioner's (they have to answer them).
MONITORING_ENTITIES = ("monitoring", "visit")


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
            summary=summary[:SUMMARY_MAX],
            before=jsonable(before) if before is not None else None,
            after=jsonable(after) if after is not None else None,
        )
    )


async def record_evidence_withdrawal(
    *, actor: Viewer, service_id: int, case_id: int, evidence_id: int, reason: str
) -> list[int]:
    """Log the withdrawal of evidence (who, when, why), then redact the history's copies
    of its note, link and file name: each becomes REDACTED, in the 'added' event's after
    and at the end of its summary. Returns the ids of the events redacted, which the
    withdrawal's own event lists.

    The one exception to an append-only log, and a narrow one: call it in the same
    transaction as the evidence row's withdrawal. The database triggers refuse any
    other update, and this one unless the evidence is withdrawn and its withdrawal
    logged first (hence the order here). Kept: who added the evidence and when, its
    kind, type, size and SHA-256 (which reveal nothing of its content, and prove which
    file it was if it turns up again)."""
    added = await (
        AuditEvent.select(AuditEvent.id, AuditEvent.summary, AuditEvent.after)
        .where(
            (AuditEvent.entity == "evidence")
            & (AuditEvent.entity_id == evidence_id)
            & (AuditEvent.action == "added")
        )
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )
    redactions = []
    for event in added:
        after = dict(event["after"] or {})
        shown = after.get("file_name") or after.get("url")  # what add() put in the summary
        for key in EVIDENCE_TEXTS:
            if isinstance(after.get(key), str) and after[key]:
                after[key] = REDACTED
        summary = _summary_without(event["summary"], shown)
        if after != (event["after"] or {}) or summary != event["summary"]:
            redactions.append((event["id"], summary, after))
    await record(
        actor=actor,
        service_id=service_id,
        case_id=case_id,
        entity="evidence",
        entity_id=evidence_id,
        action="withdrawn",
        summary=f"Evidence withdrawn: {reason}",
        after={"reason": reason, "redacted_events": [r[0] for r in redactions]},
    )
    for event_id, summary, after in redactions:
        await AuditEvent.update({AuditEvent.summary: summary, AuditEvent.after: after}).where(
            AuditEvent.id == event_id
        )
    return [r[0] for r in redactions]


def _summary_without(summary: str, shown: Any) -> str:
    """The summary with the evidence's file name or link, and anything after it, replaced
    by REDACTED: "Evidence on Audit MAR charts: [withdrawn]". The summary was cut at
    SUMMARY_MAX, so a long link may be there only in part."""
    if not isinstance(shown, str) or not shown or shown == REDACTED:
        return summary
    cut = None
    if summary.endswith(": " + shown):
        cut = len(summary) - len(shown)
    elif len(summary) >= SUMMARY_MAX:  # the end of the name or link was cut off
        cut = next(
            (
                i
                for i in range(2, len(summary))
                if summary[i - 2 : i] == ": " and shown.startswith(summary[i:])
            ),
            None,
        )
    if cut is None and shown in summary:
        cut = summary.index(shown)
    if cut is None:
        return summary
    return summary[:cut][: SUMMARY_MAX - len(REDACTED)] + REDACTED


def _scoped(
    viewer: Viewer, case_id: int, entity: str = "", action: str = "", entity_id: int | None = None
):
    where = (AuditEvent.case == case_id) & AuditEvent.service.is_in(
        access.visible_service_ids(viewer)
    )
    if viewer.role == Role.COMMISSIONER:
        # whose monitoring an event is: its author's organisation (only a commissioner
        # records one, for its own organisation; people never change organisation)
        where &= AuditEvent.entity.not_in(list(MONITORING_ENTITIES)) | AuditEvent.actor.is_in(
            User.select(User.id).where(User.organisation == viewer.organisation_id)
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
