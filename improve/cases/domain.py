"""Cases and findings: opening, moving through stages, recording what went wrong.

Every change runs in one write transaction together with its history event.
Access: anyone who can see the service can read its cases; changes need a provider
role (commissioners monitor; they do not edit a provider's case).
"""

from __future__ import annotations

from typing import Any

from improve import access, clock, framework, history, snapshots
from improve.access import Viewer
from improve.cases import deadlines
from improve.cases.special_measures import PublishedRating, special_measures_status
from improve.cases.stages import (
    MOVES,
    STAGE_HELP,
    STAGE_LABELS,
    CaseFacts,
    RatingEffect,
    Stage,
    after_new_rating,
    check_move,
    rating_to_open,
)
from improve.cases.tables import Case, Finding
from improve.db import write_tx
from improve.errors import Conflict, Invalid, NotFound, parse_date
from improve.framework import KEY_QUESTIONS
from improve.plans.statuses import DROPPED, SETTLED
from improve.services import ratings
from improve.services.tables import Enforcement, EnforcementKind, Rating, Service
from improve.settings import get_settings

SOURCES = {
    "cqc_inspection": "CQC inspection",
    "commissioner_visit": "Commissioner visit",
    "own_audit": "Own audit",
}
SEVERITIES = {"high": "High", "medium": "Medium", "low": "Low"}
FINDING_STATUSES = {
    "open": "Open",
    "addressed": "Addressed",
    "resolved": "Confirmed resolved at re-inspection",
    "withdrawn": "Withdrawn (recorded in error)",
}
WITHDRAWN = "withdrawn"

CASE_COLUMNS = (
    Case.id,
    Case.service,
    Case.service.name.as_alias("service_name"),
    Case.service.manager.name.as_alias("manager_name"),
    Case.service.manager.active.as_alias("manager_active"),
    Case.opening_rating,
    Case.stage,
    Case.special_measures,
    Case.special_measures_since,
    Case.opened_on,
    Case.published_on,
    Case.action_plan_due_on,
    Case.expected_reinspection_on,
    Case.sustain_until,
    Case.outcome,
    Case.closing_rating,
    Case.closed_on,
    Case.version,
    Case.opening_rating.overall.as_alias("opening_overall"),
    # "" when the case opened from the location's own rating, else the service type's
    Case.opening_rating.service_type.as_alias("opening_service_type"),
    Case.service.cqc_manager_absent_since.as_alias("cqc_manager_absent_since"),
    Case.service.cqc_unpublished_visit_on.as_alias("cqc_unpublished_visit_on"),
    Case.internal_review_days,
    Case.commissioner_review_days,
    Case.next_internal_review_on,
    Case.next_commissioner_review_on,
)
FINDING_COLUMNS = (
    Finding.id,
    Finding.case,
    Finding.framework,
    Finding.regulation,
    Finding.key_question,
    Finding.items,
    Finding.description,
    Finding.source,
    Finding.severity,
    Finding.status,
    Finding.withdrawn_reason,
    Finding.created_at,
    Finding.version,
)
CASE_FIELDS = (
    "stage",
    "special_measures",
    "special_measures_since",
    "action_plan_due_on",
    "expected_reinspection_on",
    "sustain_until",
    "outcome",
    "closed_on",
)


def first_reviews(opened_on):
    """When a new case's first reviews fall due (the reviews area owns the rule)."""
    from improve.reviews.domain import first_dates

    return first_dates(opened_on)


def case_scope(viewer: Viewer):
    return Case.service.is_in(access.visible_service_ids(viewer))


def visible_case_ids(viewer: Viewer):
    """A sub-select of the viewer's case ids, for scoping a child row in the query that
    finds it: a row of another organisation then answers exactly as one that does not
    exist (the same message, the same single query)."""
    return Case.select(Case.id).where(case_scope(viewer))


async def get_case(viewer: Viewer, case_id: int) -> dict[str, Any]:
    row = await Case.select(*CASE_COLUMNS).where((Case.id == case_id) & case_scope(viewer)).first()
    if row is None:
        raise NotFound("No such case")
    return row


async def editable_case(viewer: Viewer, case_id: int) -> dict[str, Any]:
    row = await get_case(viewer, case_id)
    await access.editable_service(viewer, row["service"], Service.id)
    return row


async def open_case_for(service_id: int) -> dict[str, Any] | None:
    return (
        await Case.select(*CASE_COLUMNS)
        .where((Case.service == service_id) & (Case.stage != Stage.CLOSED))
        .first()
    )


async def cases_of_service(viewer: Viewer, service_id: int) -> list[dict[str, Any]]:
    await access.service_or_404(viewer, service_id, Service.id)
    return (
        await Case.select(*CASE_COLUMNS)
        .where(Case.service == service_id)
        .order_by(Case.opened_on, ascending=False)
        .order_by(Case.id, ascending=False)
    )


# --- opening ------------------------------------------------------------------------


async def open_case(viewer: Viewer, service_id: int, rating_id: int | None = None):
    """Open a case from the service's latest rating that is Inadequate overall or in a key
    question: the location's own, or one service type's (stages.rating_to_open); or from
    the rating given."""
    await access.editable_service(viewer, service_id, Service.id)
    query = Rating.select(*ratings.RATING_COLUMNS).where(Rating.service == service_id)
    if rating_id is not None:
        found = await query.where(Rating.id == rating_id)
    else:
        found = await query.order_by(Rating.published_on, ascending=False)
    if not found:
        raise Invalid({"rating": "record the CQC rating first: a case opens from a rating"})
    rating = rating_to_open(found)
    if rating is None:
        raise Invalid(
            {"rating": "a case opens from a rating that is Inadequate overall or in a key question"}
        )
    dates = deadlines.default_dates(rating["published_on"], rating["overall"] == "inadequate")
    async with write_tx():
        if await open_case_for(service_id):
            raise Conflict("This service already has an open case")
        # special measures as the ratings up to this one leave the service: an earlier
        # rating Inadequate in a key question makes this one its re-inspection
        status = special_measures_status(
            await ratings_history(
                service_id, up_to=rating["published_on"], service_type=rating["service_type"]
            )
        )
        rows = await Case.insert(
            Case(
                service=service_id,
                opening_rating=rating["id"],
                stage=Stage.ASSESSING,
                special_measures=status.in_special_measures,
                special_measures_since=status.since,
                opened_on=clock.today(),
                published_on=rating["published_on"],
                created_by=viewer.user_id,
                created_at=clock.now(),
                **dates,
                **first_reviews(clock.today()),
            )
        ).returning(Case.id)
        case_id = rows[0]["id"]
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=case_id,
            entity="case",
            entity_id=case_id,
            action="opened",
            summary=f"Case opened from the rating published {rating['published_on']:%-d %b %Y}"
            + ratings.of_type(rating["service_type"]),
            after={"stage": Stage.ASSESSING, **dates},
        )
    return await get_case(viewer, case_id)


# --- ratings move open cases on ---------------------------------------------------


async def record_rating(viewer: Viewer, service_id: int, data: dict[str, Any]):
    """Record a published rating; an open case moves on by the rules in stages.py.
    Returns (rating row, created, note for people)."""
    await access.editable_service(viewer, service_id, Service.id)
    rating_in = ratings.clean_rating(data)
    async with write_tx():
        row, created = await ratings.store(viewer, service_id, rating_in)
        note = "" if created else "This rating was already recorded; nothing changed."
        case = await open_case_for(service_id)
        if created and moves_case_on(case, rating_in):
            note = await _apply_rating(viewer, case, rating_in)
    return row, created, note


async def ratings_history(
    service_id: int, up_to=None, service_type: str = ""
) -> list[PublishedRating]:
    """The published ratings of one thing the service is rated as (the location itself,
    or one service type of a location offering several), oldest first (those up to a date
    when given): special measures follow the inspections of that one thing."""
    query = Rating.select(*ratings.RATING_COLUMNS).where(
        (Rating.service == service_id) & (Rating.service_type == service_type)
    )
    if up_to is not None:
        query = query.where(Rating.published_on <= up_to)
    return [PublishedRating.of(r) for r in await query.order_by(Rating.published_on)]


def moves_case_on(case: dict[str, Any] | None, rating: ratings.RatingIn) -> bool:
    """A new rating moves an open case on when it was published after the one the case
    opened from and is of the same thing: the location itself, or the same service type."""
    return bool(
        case
        and case["published_on"]
        and rating.published_on > case["published_on"]
        and rating.service_type == (case.get("opening_service_type") or "")
    )


async def _apply_rating(viewer: Viewer | None, case: dict[str, Any], rating: ratings.RatingIn):
    """A rating just stored moves the open case on: special measures follow the service's
    whole ratings history (special_measures.py), and the stage moves only when this
    rating is the latest (one filled in behind a newer one changes no stage)."""
    history_ = await ratings_history(
        case["service"], service_type=case.get("opening_service_type") or ""
    )
    status = special_measures_status(history_)
    new = PublishedRating(rating.published_on, rating.overall, rating.key_questions)
    if new.rated and history_[-1].published_on == rating.published_on:
        effect = after_new_rating(Stage(case["stage"]), status)
    else:
        effect = RatingEffect(Stage(case["stage"]), status.in_special_measures, status.since, "")
    after = {
        "stage": effect.stage,
        "special_measures": effect.special_measures,
        "special_measures_since": effect.special_measures_since,
    }
    if effect.stage == Stage.SUSTAINING and case["stage"] != Stage.SUSTAINING:
        after["sustain_until"] = deadlines.add_months(
            rating.published_on, get_settings().sustain_months
        )
    before = {k: case[k] for k in after}
    if before != after:
        await Case.update(
            {**{getattr(Case, k): v for k, v in after.items()}, Case.version: Case.version + 1}
        ).where(Case.id == case["id"])
    if before != after or effect.note:
        # a rating that changes nothing on the case can still say something that must
        # stay on its record: still Inadequate in special measures, CQC moves to cancel
        b, a = history.changed(before, after)
        await history.record(
            actor=viewer,
            service_id=case["service"],
            case_id=case["id"],
            entity="case",
            entity_id=case["id"],
            action="rating_applied",
            summary=effect.note or "New rating recorded",
            before=b or None,
            after=a or None,
        )
    return effect.note


# --- stages --------------------------------------------------------------------------


async def facts(case: dict[str, Any]) -> CaseFacts:
    """What the stage rules need, in four queries."""
    from improve.plans.tables import (
        Action,
        ActionFinding,
        action_ids_of_case,
        plan_ids_of_case,
    )

    finding_ids = [
        r["id"]
        for r in await Finding.select(Finding.id).where(
            (Finding.case == case["id"]) & (Finding.status != WITHDRAWN)
        )
    ]
    actions = await Action.select(Action.status).where(
        Action.plan.is_in(plan_ids_of_case(case["id"]))
    )
    answered = {
        r["finding"]
        for r in await ActionFinding.select(ActionFinding.finding).where(
            ActionFinding.action.is_in(action_ids_of_case(case["id"]))
        )
    }
    return facts_from(case, finding_ids, actions, answered, await newer_rating(case))


async def newer_rating(case: dict[str, Any]) -> dict[str, Any] | None:
    """The latest rating published after the one the case opened from, of the same thing
    (the location itself, or the service type the case opened for), if any."""
    if not case["published_on"]:
        return None
    return (
        await Rating.select(Rating.overall)
        .where(
            (Rating.service == case["service"])
            & (Rating.published_on > case["published_on"])
            & (Rating.service_type == (case.get("opening_service_type") or ""))
        )
        .order_by(Rating.published_on, ascending=False)
        .first()
    )


def facts_from(
    case: dict[str, Any],
    finding_ids: list[int],
    actions: list[dict[str, Any]],
    answered: set[int],
    newer: dict[str, Any] | None,
) -> CaseFacts:
    """The facts from rows already read (the case page has them all)."""
    return CaseFacts(
        stage=Stage(case["stage"]),
        findings=len(finding_ids),
        uncovered_findings=len([f for f in finding_ids if f not in answered]),
        actions=len([a for a in actions if a["status"] != DROPPED]),
        open_actions=len([a for a in actions if a["status"] not in SETTLED]),
        has_new_rating=newer is not None,
        new_rating_overall=newer["overall"] if newer else "",
    )


async def move(viewer: Viewer, case_id: int, to: str, *, version: int, outcome: str = ""):
    case = await editable_case(viewer, case_id)
    try:
        target = Stage(to)
    except ValueError:
        raise Invalid({"stage": f"'{to}' is not a stage"}) from None
    decision = check_move(await facts(case), target, outcome)
    if not decision.allowed:
        raise Invalid({"stage": " ".join(decision.reasons)})
    changes: dict[str, Any] = {"stage": target}
    if target == Stage.CLOSED:
        changes.update(outcome=outcome, closed_on=clock.today())
    await _update_case(
        viewer,
        case,
        changes,
        version,
        action="stage_changed",
        summary=f"{STAGE_LABELS[Stage(case['stage'])]} → {STAGE_LABELS[target]}",
    )
    return await get_case(viewer, case_id)


async def set_stage_in_tx(viewer: Viewer, case: dict[str, Any], to: Stage, why: str) -> None:
    """A move the product makes itself (no version check), inside the caller's
    transaction: for example the first plan drafted moves an assessing case on."""
    await Case.update({Case.stage: to, Case.version: Case.version + 1}).where(Case.id == case["id"])
    await history.record(
        actor=viewer,
        service_id=case["service"],
        case_id=case["id"],
        entity="case",
        entity_id=case["id"],
        action="stage_changed",
        summary=f"{STAGE_LABELS[Stage(case['stage'])]} → {STAGE_LABELS[to]}: {why}",
        before={"stage": case["stage"]},
        after={"stage": to},
    )


async def update_dates(viewer: Viewer, case_id: int, data: dict[str, Any], *, version: int):
    """People may change the expected re-inspection and the action plan due date."""
    case = await editable_case(viewer, case_id)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("expected_reinspection_on", "action_plan_due_on"):
        if name in data:
            try:
                changes[name] = parse_date(data[name], name)
            except Invalid as exc:
                errors.update(exc.errors)
    for name, value in changes.items():
        if value and case["published_on"] and value < case["published_on"]:
            errors[name] = "cannot be before the report was published"
    if errors:
        raise Invalid(errors)
    await _update_case(
        viewer, case, changes, version, action="dates_changed", summary="Key dates changed"
    )
    return await get_case(viewer, case_id)


async def _update_case(
    viewer: Viewer,
    case: dict[str, Any],
    changes: dict[str, Any],
    version: int,
    *,
    action: str,
    summary: str,
) -> None:
    before, after = history.changed({k: case[k] for k in changes}, changes)
    async with write_tx():
        updated = (
            await Case.update(
                {**{getattr(Case, k): v for k, v in changes.items()}, Case.version: version + 1}
            )
            .where((Case.id == case["id"]) & (Case.version == version))
            .returning(Case.id)
        )
        if not updated:
            raise Conflict(
                "Someone else changed this case since you opened it. Reload the "
                "page to see their change, then try again."
            )
        await history.record(
            actor=viewer,
            service_id=case["service"],
            case_id=case["id"],
            entity="case",
            entity_id=case["id"],
            action=action,
            summary=summary,
            before=before,
            after=after,
        )


# --- findings ------------------------------------------------------------------------


def clean_finding(data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """Validates finding fields against the framework; names every bad field."""
    fw_id = str(data.get("framework") or "saf")
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    try:
        fw = framework.get(fw_id)
        out["framework"] = fw_id
    except framework.FrameworkError:
        raise Invalid({"framework": f"no framework '{fw_id}'"}) from None

    def has(name: str) -> bool:
        return not partial or name in data

    if has("regulation"):
        reg = str(data.get("regulation") or "").upper().strip()
        if reg not in fw.regulations:
            errors["regulation"] = "choose the regulation breached (9 to 20A)"
        out["regulation"] = reg
    if has("key_question"):
        kq = str(data.get("key_question") or "")
        if kq not in KEY_QUESTIONS:
            errors["key_question"] = "choose a key question"
        out["key_question"] = kq
    if has("items"):
        raw = data.get("items") or []
        items = [raw] if isinstance(raw, str) else list(raw)
        items = [i for i in items if i]
        unknown = [i for i in items if i not in fw.items]
        if unknown:
            errors["items"] = f"not quality statements of {fw.title}: {', '.join(unknown)}"
        out["items"] = items
    if has("description"):
        text = str(data.get("description") or "").strip()
        if not text:
            errors["description"] = "say what was found, in the inspector's words"
        elif len(text) > 5000:
            errors["description"] = "must be at most 5000 characters"
        out["description"] = text
    for name, allowed in (
        ("source", SOURCES),
        ("severity", SEVERITIES),
        ("status", FINDING_STATUSES),
    ):
        if name in data:
            value = str(data.get(name) or "")
            if value not in allowed:
                errors[name] = "must be one of " + ", ".join(allowed)
            out[name] = value
    if "status" in out:  # a withdrawal says why; any other status has no reason to keep
        reason = str(data.get("withdrawn_reason") or "").strip()
        if out["status"] == WITHDRAWN and not reason:
            errors["withdrawn_reason"] = "say why it was recorded in error"
        elif len(reason) > 2000:
            errors["withdrawn_reason"] = "must be at most 2000 characters"
        out["withdrawn_reason"] = reason if out["status"] == WITHDRAWN else ""
    if errors:
        raise Invalid(errors)
    return out


def standing(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The findings the plan must answer: all but those withdrawn as recorded in error."""
    return [f for f in findings if f["status"] != WITHDRAWN]


async def add_finding(viewer: Viewer, case_id: int, data: dict[str, Any]) -> dict[str, Any]:
    case = await editable_case(viewer, case_id)
    if case["stage"] == Stage.CLOSED:
        raise Invalid({"case": "the case is closed"})
    fields = clean_finding(data)
    async with write_tx():
        rows = await Finding.insert(
            Finding(case=case_id, created_by=viewer.user_id, created_at=clock.now(), **fields)
        ).returning(Finding.id)
        finding_id = rows[0]["id"]
        await history.record(
            actor=viewer,
            service_id=case["service"],
            case_id=case_id,
            entity="finding",
            entity_id=finding_id,
            action="added",
            summary=f"Finding added: regulation {fields['regulation']}, "
            f"{framework.KEY_QUESTION_TITLES[fields['key_question']]}",
            after=fields,
        )
    return await get_finding(viewer, finding_id)


async def get_finding(viewer: Viewer, finding_id: int) -> dict[str, Any]:
    row = (
        await Finding.select(*FINDING_COLUMNS)
        .where(
            (Finding.id == finding_id)
            & Finding.case.service.is_in(access.visible_service_ids(viewer))
        )
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFound("No such finding")
    return row


# a finding's fields as a history line names them
FINDING_FIELD_WORDS = {
    "regulation": "regulation",
    "key_question": "key question",
    "description": "description",
    "items": "quality statements",
    "source": "source",
    "severity": "severity",
    "status": "status",
}


def finding_summary(regulation: str, after: dict[str, Any]) -> str:
    """A history line such as "Regulation 12 finding: Addressed", or what changed."""
    if "status" in after and set(after) <= {"status", "withdrawn_reason"}:
        status = FINDING_STATUSES.get(after["status"], after["status"])
        return f"Regulation {regulation} finding: {status}"
    named = [words for field, words in FINDING_FIELD_WORDS.items() if field in after]
    return f"Regulation {regulation} finding: changed " + ", ".join(named or ["details"])


async def update_finding(
    viewer: Viewer, finding_id: int, data: dict[str, Any], *, version: int
) -> dict[str, Any]:
    current = await get_finding(viewer, finding_id)
    case = await editable_case(viewer, current["case"])
    changes = clean_finding({"framework": current["framework"], **data}, partial=True)
    changes.pop("framework", None)
    before, after = history.changed({k: current[k] for k in changes}, changes)
    async with write_tx():
        updated = (
            await Finding.update(
                {
                    **{getattr(Finding, k): v for k, v in changes.items()},
                    Finding.version: version + 1,
                }
            )
            .where((Finding.id == finding_id) & (Finding.version == version))
            .returning(Finding.id)
        )
        if not updated:
            raise Conflict(
                "Someone else changed this finding since you opened it. Reload "
                "to see their change, then try again."
            )
        if after:
            await history.record(
                actor=viewer,
                service_id=case["service"],
                case_id=case["id"],
                entity="finding",
                entity_id=finding_id,
                action="changed",
                summary=finding_summary(current["regulation"], after),
                before=before,
                after=after,
            )
    return await get_finding(viewer, finding_id)


async def findings_of(viewer: Viewer, case_id: int) -> list[dict[str, Any]]:
    await get_case(viewer, case_id)
    return await findings_in(case_id)


async def findings_in(case_id: int) -> list[dict[str, Any]]:
    """The findings of a case the caller has already found in the viewer's scope."""
    return (
        await Finding.select(*FINDING_COLUMNS)
        .where(Finding.case == case_id)
        .order_by(Finding.key_question)
        .order_by(Finding.id)
        .output(load_json=True)
    )


# --- the case page ------------------------------------------------------------------


async def case_view(viewer: Viewer, case_id: int) -> dict[str, Any]:
    """Everything the case page shows, kept while the data does not change (a viewer
    out of scope gets NotFound from the first query, and nothing is kept)."""
    return await snapshots.kept(
        ("case", case_id, *access.scope_key(viewer)), lambda: _case_view(viewer, case_id)
    )


async def _case_view(viewer: Viewer, case_id: int) -> dict[str, Any]:
    """With the plan's actions and the recent reviews, in a fixed number of queries: the
    case is read once, and the stage rules' facts come from the rows the page reads."""
    from improve.plans.domain import PROGRESS_COLUMNS, actions_in, answered_by
    from improve.reviews.domain import recent_of

    case = await get_case(viewer, case_id)
    recorded = await findings_in(case_id)
    findings = standing(recorded)
    actions = await actions_in(case_id, PROGRESS_COLUMNS)
    notices = await Enforcement.select(Enforcement.regulation, Enforcement.compliance_due_on).where(
        (Enforcement.service == case["service"])
        & (Enforcement.kind == EnforcementKind.WARNING_NOTICE)
        & (Enforcement.rating == case["opening_rating"])
    )
    milestones = deadlines.timeline(
        today=clock.today(),
        published_on=case["published_on"],
        special_measures_entered=case["special_measures"],
        special_measures_since=case["special_measures_since"],
        action_plan_due_on=case["action_plan_due_on"],
        expected_reinspection_on=case["expected_reinspection_on"],
        warning_notices=[
            deadlines.WarningNotice(n["regulation"], n["compliance_due_on"])
            for n in notices
            if n["compliance_due_on"]
        ],
        sustain_until=case["sustain_until"],
        reviews=_review_milestones(case),
    )
    answered = answered_by(actions)
    case_facts = facts_from(
        case, [f["id"] for f in findings], actions, set(answered), await newer_rating(case)
    )
    stage = Stage(case["stage"])
    return {
        "case": case,
        "stage_label": STAGE_LABELS[stage],
        "stage_help": STAGE_HELP[stage],
        "moves": [
            {"stage": s, "label": STAGE_LABELS[s], "decision": check_move(case_facts, s, "")}
            for s in _next_moves(stage)
        ],
        "findings": findings,
        "withdrawn_findings": [f for f in recorded if f["status"] == WITHDRAWN],
        "findings_by_kq": {
            kq: [f for f in findings if f["key_question"] == kq] for kq in KEY_QUESTIONS
        },
        "findings_by_regulation": _by_regulation(findings),
        "milestones": milestones,
        "next_due": deadlines.next_due(milestones),
        "activity": await history.feed(viewer, case_id, limit=10),
        "assumptions": deadlines.ASSUMPTIONS,
        "actions": actions,
        "answered_by": answered,
        "recent_reviews": await recent_of(case_id, limit=5),
    }


def _review_milestones(case: dict[str, Any]) -> list[tuple[str, Any]]:
    from improve.reviews.domain import due_reviews

    if case["stage"] == Stage.CLOSED:
        return []
    return [
        (("Missed: " if r["missed"] else "") + r["label"], r["on"])
        for r in due_reviews(case, clock.today())
    ]


def _next_moves(stage: Stage) -> list[Stage]:
    return [s for s in MOVES[stage] if s != Stage.CLOSED]


def _by_regulation(findings: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f["regulation"]] = counts.get(f["regulation"], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: _reg_key(kv[0])))


def _reg_key(reg: str) -> tuple[int, str]:
    digits = "".join(c for c in reg if c.isdigit())
    return (int(digits or 0), reg)


def validate_version(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Invalid({"version": "is required (the version you are changing)"}) from None


async def list_cases(
    viewer: Viewer, *, stage: str = "", limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """Cases in scope, newest first (opened date, then id), with the total."""
    where = case_scope(viewer)
    if stage:
        where &= Case.stage == stage
    rows = (
        await Case.select(*CASE_COLUMNS)
        .where(where)
        .order_by(Case.opened_on, ascending=False)
        .order_by(Case.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    return rows, await Case.count().where(where)
