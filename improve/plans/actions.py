"""Actions: status rules (pure), changes with optimistic versions, notes, bulk changes.

"Verified" means someone other than the person who did the action (and other than its
owner) confirmed, with evidence, that it worked: the commonest complaint about today's
tools is actions closed without anyone checking.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from improve import access, clock, history, history_words
from improve.access import Viewer
from improve.cases import domain as cases
from improve.db import write_tx
from improve.errors import DATE_RANGE, EARLIEST, LATEST, Conflict, Invalid, NotFound, parse_date
from improve.plans import domain as plans
from improve.plans.tables import Action, ActionFinding, ActionNote, Plan
from improve.services.tables import Service

MOVES = {
    "not_started": ("in_progress", "done", "blocked", "dropped"),
    "in_progress": ("not_started", "done", "blocked", "dropped"),
    "blocked": ("not_started", "in_progress", "dropped"),
    "done": ("in_progress", "verified"),
    "verified": ("in_progress",),
    "dropped": ("not_started",),  # back into the plan
}
# statuses whose reason is kept in a column of its own; any other reason given with a
# status change (reopening a verified action) is kept as a note
REASON_FIELDS = {"blocked": "blocked_reason", "dropped": "dropped_reason"}
# "Verified" stays true after the fact: a verified action is not handed to its verifier
VERIFIER_AS_OWNER = (
    "is the person who verified it: a verified action's owner must be someone else "
    "(reopen it first to hand it to them)"
)
MAX_NOTE = 5000


def check_status(
    current: str,
    to: str,
    *,
    actor_id: int,
    owner_id: int | None,
    done_by: int | None,
    reason: str = "",
    evidence: str = "",
    new_owner_id: int | None = None,
) -> list[str]:
    """Why a status change is refused (empty: allowed). Pure.

    ``owner_id`` is the owner before the request, ``new_owner_id`` the one it gives
    (None: unchanged): whoever verifies must be neither, nor the person who did it, so
    an owner cannot verify their own action by handing it on in the same request."""
    if to not in plans.ACTION_STATUSES:
        return [f"'{to}' is not a status"]
    if to == current:
        return []
    if to not in MOVES[current]:
        allowed = ", ".join(plans.ACTION_STATUSES[s] for s in MOVES[current])
        return [f"From {plans.ACTION_STATUSES[current]} an action can go to: {allowed}."]
    problems = []
    if to == "blocked" and not reason.strip():
        problems.append("Say what is blocking it.")
    if to == "dropped" and not reason.strip():
        problems.append("Say why it is no longer needed: the plan's readers will ask.")
    if to == "verified":
        if actor_id in (owner_id, new_owner_id, done_by):
            problems.append(
                "Someone other than the owner and the person who did it must verify it."
            )
        if not evidence.strip():
            problems.append("Say what evidence shows it worked.")
    if current == "verified" and to == "in_progress" and not reason.strip():
        problems.append("Say why a verified action is being reopened.")
    return problems


async def get_action(viewer: Viewer, action_id: int) -> dict[str, Any]:
    """One action with its case (scoped), findings, notes and theme."""
    row = (
        await Action.select(
            *plans.ACTION_COLUMNS,
            Action.plan.case.as_alias("case_id"),
            Action.done_by,
            Action.done_on,
            Action.verified_by,
            Action.verified_by.name.as_alias("verified_by_name"),
            Action.verification_note,
        )
        .where(
            (Action.id == action_id)
            # scoped here, not by get_case below: another organisation's action must answer
            # exactly as one that does not exist
            & Action.plan.is_in(
                Plan.select(Plan.id).where(Plan.case.is_in(cases.visible_case_ids(viewer)))
            )
        )
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound("No such action")
    row["case"] = await cases.get_case(viewer, row["case_id"])
    row["finding_ids"] = [
        link["finding"]
        for link in await ActionFinding.select(ActionFinding.finding)
        .where(ActionFinding.action == action_id)
        .order_by(ActionFinding.id)
    ]
    plans.derive(row, clock.today())
    row["notes"] = (
        await ActionNote.select(
            ActionNote.id, ActionNote.author_name, ActionNote.at, ActionNote.text
        )
        .where(ActionNote.action == action_id)
        .order_by(ActionNote.at, ascending=False)
    )
    return row


async def _editable(viewer: Viewer, action_id: int) -> dict[str, Any]:
    row = await get_action(viewer, action_id)
    service = await access.editable_service(
        viewer, row["case"]["service"], Service.id, Service.provider
    )
    row["provider"] = service["provider"]
    if row["case"]["stage"] == "closed":
        raise Invalid({"case": "the case is closed"})
    return row


async def update(
    viewer: Viewer, action_id: int, data: dict[str, Any], *, version: int
) -> dict[str, Any]:
    """Change status (with its rules), owner, due date or title, and add a note, in one
    transaction with its history. A stale version is refused, never overwritten."""
    row = await _editable(viewer, action_id)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if "title" in data:
        title = " ".join(str(data["title"] or "").split())
        if not title or len(title) > 200:
            errors["title"] = "is required, at most 200 characters"
        changes["title"] = title
    if "due_on" in data:
        try:
            changes["due_on"] = parse_date(data["due_on"], "due_on")
            if changes["due_on"] is None:
                errors["due_on"] = "is required"
        except Invalid as exc:
            errors.update(exc.errors)
    if "owner" in data:
        # the owner kept as is needs no check: one who has left stays until someone
        # chooses a new one, rather than vanishing when a status is saved
        owners = await plans._owners(row["provider"]) | {row["owner"]}
        try:
            changes["owner"] = plans._owner({"owner": data["owner"]}, owners)
        except Invalid as exc:
            errors.update(exc.errors)
    status = str(data.get("status") or row["status"])
    reason = str(data.get("reason") or "")
    evidence = str(data.get("evidence") or "")
    problems = check_status(
        row["status"],
        status,
        actor_id=viewer.user_id,
        owner_id=row["owner"],  # judged against the owner before this request
        new_owner_id=changes.get("owner"),
        done_by=row["done_by"],
        reason=reason,
        evidence=evidence,
    )
    if problems:
        errors["status"] = " ".join(problems)
    elif (
        status == row["status"] == "verified"
        and changes.get("owner", row["owner"]) != row["owner"]
        and changes["owner"] == row["verified_by"]
    ):
        errors["owner"] = VERIFIER_AS_OWNER
    note = str(data.get("note") or "").strip()
    for name, text in (("note", note), ("evidence", evidence), ("reason", reason)):
        if len(text) > MAX_NOTE:
            errors[name] = f"must be at most {MAX_NOTE} characters"
    if errors:
        raise Invalid(errors)
    if status != row["status"]:
        changes.update(_status_fields(viewer, row, status, reason, evidence))
        if reason.strip() and status not in REASON_FIELDS:
            note = "\n\n".join(
                filter(None, [f"{plans.ACTION_STATUSES[status]}: {reason.strip()}", note])
            )
    before, after = {k: row.get(k) for k in changes}, changes
    before, after = history.changed(before, after)
    async with write_tx():
        if after:
            updated = (
                await Action.update(
                    {
                        **{getattr(Action, k): v for k, v in after.items()},
                        Action.version: version + 1,
                    }
                )
                .where((Action.id == action_id) & (Action.version == version))
                .returning(Action.id)
            )
            if not updated:
                raise Conflict(
                    "Someone else changed this action since you opened it. Reload "
                    "to see their change, then try again."
                )
            await history.record(
                actor=viewer,
                service_id=row["case"]["service"],
                case_id=row["case_id"],
                entity="action",
                entity_id=action_id,
                action="changed",
                summary=_summary(row["title"], after),
                before=before,
                after=after,
            )
        if note:
            await _add_note(viewer, row, note)
    return await get_action(viewer, action_id)


# An action's own history in its readers' words: the fields a person changes. done_by,
# verified_by and their dates are left out: the status change and its author say them.
HISTORY_FIELDS = {
    "title": "Title",
    "status": "Status",
    "owner": "Owner",
    "due_on": "Due date",
    "blocked_reason": "Why blocked",
    "dropped_reason": "Why dropped",
    "verification_note": "Evidence it worked",
}


def readable_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None, names: dict[int, str]
) -> list[dict[str, str]]:
    """One history event's changes to the fields people follow, as label, was and now,
    in words (status labels, people's names, dates as a person writes them)."""
    before, after = before or {}, after or {}
    return [
        {
            "label": label,
            "was": history_words.word("action", field, before.get(field), names),
            "now": history_words.word("action", field, after[field], names),
        }
        for field, label in HISTORY_FIELDS.items()
        if field in after
    ]


async def history_of(
    viewer: Viewer, action: dict[str, Any], names: dict[int, str]
) -> list[dict[str, Any]]:
    """The action's own history, newest first: when, who, what changed. Notes are left
    out: the page lists them already."""
    events = await history.feed(
        viewer, action["case_id"], entity="action", entity_id=action["id"], limit=200
    )
    return [
        {
            "at": e["at"],
            "who": e["actor_name"],
            "added": e["action"] == "added",
            "changes": readable_changes(e["before"], e["after"], names),
        }
        for e in events
        if e["action"] != "note_added"
    ]


def _status_fields(
    viewer: Viewer, row: dict[str, Any], status: str, reason: str, evidence: str
) -> dict[str, Any]:
    fields: dict[str, Any] = {"status": status}
    if status in REASON_FIELDS:
        fields[REASON_FIELDS[status]] = reason.strip()
    if row["status"] in REASON_FIELDS:
        fields[REASON_FIELDS[row["status"]]] = ""
    if status == "done":
        fields.update(done_by=viewer.user_id, done_on=clock.today())
    if status == "verified":
        fields.update(
            verified_by=viewer.user_id,
            verified_on=clock.today(),
            verification_note=evidence.strip(),
        )
    if status == "in_progress" and row["status"] in ("done", "verified"):
        fields.update(done_by=None, done_on=None, verified_by=None, verified_on=None)
    return fields


def _summary(title: str, after: dict[str, Any]) -> str:
    """The history line's words: the new status, or what changed ("due date moved to
    8 Jun 2026"), never a column's name."""
    if "status" in after:
        return f"{title}: {plans.ACTION_STATUSES[after['status']]}"
    if set(after) == {"due_on"}:
        return f"{title}: due date moved to {dt.date.fromisoformat(str(after['due_on'])):%-d %b %Y}"
    named = [HISTORY_FIELDS[f].lower() for f in HISTORY_FIELDS if f in after]
    return f"{title}: changed " + (", ".join(named) or "details")


async def _add_note(viewer: Viewer, row: dict[str, Any], text: str) -> None:
    inserted = await ActionNote.insert(
        ActionNote(
            action=row["id"],
            author=viewer.user_id,
            author_name=viewer.name,
            at=clock.now(),
            text=text,
        )
    ).returning(ActionNote.id)
    await history.record(
        actor=viewer,
        service_id=row["case"]["service"],
        case_id=row["case_id"],
        entity="action",
        entity_id=row["id"],
        action="note_added",
        summary=f"Note on {row['title']}",
        after={"note": text[:300], "note_id": inserted[0]["id"]},
    )


async def add_note(viewer: Viewer, action_id: int, text: str) -> dict[str, Any]:
    row = await _editable(viewer, action_id)
    text = text.strip()
    if not text:
        raise Invalid({"note": "write the note"})
    if len(text) > MAX_NOTE:
        raise Invalid({"note": f"must be at most {MAX_NOTE} characters"})
    async with write_tx():
        await _add_note(viewer, row, text)
    return await get_action(viewer, action_id)


async def bulk(
    viewer: Viewer,
    case_id: int,
    action_ids: list[int],
    *,
    owner: Any = None,
    shift_days: int | None = None,
) -> int:
    """Reassign and/or move the due dates of several actions at once, in one transaction.
    Returns how many changed."""
    case = await cases.editable_case(viewer, case_id)
    if not action_ids:
        raise Invalid({"actions": "choose at least one action"})
    if owner is None and not shift_days:
        raise Invalid({"change": "choose a new owner or a number of days to move the dates"})
    if shift_days is not None and not -365 <= shift_days <= 365:
        raise Invalid({"shift_days": "must be between -365 and 365"})
    in_plan = {a["id"]: a for a in await plans.actions_of(viewer, case_id)}
    foreign = [i for i in action_ids if i not in in_plan]
    if foreign:
        raise Invalid({"actions": f"not actions of this case: {foreign}"})
    if shift_days and any(
        not EARLIEST.toordinal()
        <= in_plan[i]["due_on"].toordinal() + shift_days
        <= LATEST.toordinal()
        for i in action_ids
    ):
        raise Invalid({"shift_days": f"would move a due date outside {DATE_RANGE}"})
    new_owner = None
    if owner is not None:
        service = (
            await Service.select(Service.provider).where(Service.id == case["service"]).first()
        )
        new_owner = plans._owner({"owner": owner}, await plans._owners(service["provider"]))
    async with write_tx():
        if new_owner is not None:
            verified = await Action.select(Action.title).where(
                Action.id.is_in(action_ids)
                & (Action.status == "verified")
                & (Action.verified_by == new_owner)
            )
            if verified:
                titles = "; ".join(r["title"] for r in verified)
                raise Invalid(
                    {
                        "owner": f"{VERIFIER_AS_OWNER}; leave these out or choose someone "
                        f"else: {titles}"
                    }
                )
        for action_id in action_ids:
            row = in_plan[action_id]
            after: dict[str, Any] = {}
            if owner is not None and row["owner"] != new_owner:
                after["owner"] = new_owner
            if shift_days:
                after["due_on"] = row["due_on"] + dt.timedelta(days=shift_days)
            if not after:
                continue
            await Action.update(
                {
                    **{getattr(Action, k): v for k, v in after.items()},
                    Action.version: Action.version + 1,
                }
            ).where(Action.id == action_id)
            await history.record(
                actor=viewer,
                service_id=case["service"],
                case_id=case_id,
                entity="action",
                entity_id=action_id,
                action="bulk_changed",
                summary=_summary(row["title"], after),
                before={k: row[k] for k in after},
                after=after,
            )
    return len(action_ids)
