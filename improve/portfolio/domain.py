"""Portfolio views: a commissioner's monitored services and a provider's homes side by
side. Each view costs a fixed number of queries whatever the number of services: every
query is scoped by the same sub-select of the viewer's services, and the rows are joined
in Python by id (never a query per service).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from piccolo.columns.combination import WhereRaw
from piccolo.query.functions.aggregate import Count

from improve import access, clock, snapshots
from improve.access import Viewer
from improve.accounts.tables import Role
from improve.assessments.tables import SelfAssessment
from improve.cases.stages import STAGE_LABELS, Stage
from improve.cases.tables import AuditEvent, Case
from improve.errors import Forbidden
from improve.monitoring.tables import MonitoringStatus
from improve.plans.domain import DROPPED, FINISHED, SETTLED
from improve.plans.playbooks import THEMES
from improve.plans.tables import Action, plan_ids_of_cases
from improve.services.domain import manager_has_left
from improve.services.tables import RATING_LABELS, Rating, Service

# Piccolo builds a join chain, and deep-copies it for an alias, on every access: built once
ACTION_CASE = Action.plan.case
ACTION_CASE_ID = Action.plan.case.as_alias("case_id")
RATING_ORDER = {"inadequate": 1, "requires_improvement": 2, "good": 3, "outstanding": 4}


@dataclass(frozen=True)
class Filters:
    level: str = ""  # a monitoring level name
    rating: str = ""
    special_measures: bool = False
    overdue: bool = False
    q: str = ""  # part of the service's or provider's name
    sort: str = "concern"
    descending: bool = False


SORTS = {
    "concern": "Most concern first",
    "name": "Service",
    "level": "Monitoring level",
    "rating": "Current rating",
    "days_since_inadequate": "Days since Inadequate",
    "days_to_reinspection": "Days to re-inspection",
    "progress": "Plan progress",
    "overdue": "Overdue actions",
    "projected": "Projected rating",
}


# --- shared loaders (one query each) --------------------------------------------------------


def _scope(viewer: Viewer):
    return access.visible_service_ids(viewer)


async def _services(viewer: Viewer) -> list[dict[str, Any]]:
    return await access.services(
        viewer,
        Service.id,
        Service.name,
        Service.service_type,
        Service.local_authority,
        Service.provider,
        Service.provider.name.as_alias("provider_name"),
        Service.manager.name.as_alias("manager_name"),
        Service.manager.active.as_alias("manager_active"),
    ).order_by(Service.name)


async def _ratings(viewer: Viewer) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in (
        await Rating.select(Rating.service, Rating.published_on, Rating.overall)
        # the location's own ratings (not its service types')
        .where(Rating.service.is_in(_scope(viewer)) & (Rating.service_type == ""))
        .order_by(Rating.published_on)
    ):
        out[r["service"]].append(r)
    return out


async def _cases(viewer: Viewer, *, closed_too: bool = False) -> list[dict[str, Any]]:
    query = Case.select(
        Case.id,
        Case.service,
        Case.stage,
        Case.special_measures,
        Case.opened_on,
        Case.published_on,
        Case.opening_rating.overall.as_alias("opening_overall"),
        Case.action_plan_due_on,
        Case.expected_reinspection_on,
        Case.next_internal_review_on,
        Case.next_commissioner_review_on,
        # kept as reviews are recorded: never every review of every case
        Case.last_review_on,
        Case.last_review_rag,
        Case.first_green_review_on,
        Case.outcome,
        Case.closed_on,
        Case.closing_rating.overall.as_alias("closing_overall"),
        Case.closing_rating.published_on.as_alias("closing_published_on"),
    ).where(Case.service.is_in(_scope(viewer)))
    if not closed_too:
        query = query.where(Case.stage != Stage.CLOSED)
    return await query


def _open_case_ids(viewer: Viewer):
    return Case.select(Case.id).where(
        Case.service.is_in(_scope(viewer)) & (Case.stage != Stage.CLOSED)
    )


async def _action_counts(viewer: Viewer, *, by_theme: bool) -> dict[int, dict[str, Any]]:
    """Per case: actions by status (and theme, for the heat map), how many are overdue
    and how many open ones are due later than first agreed (slipped). Three grouped
    queries, read from the index of actions' progress alone."""
    where = Action.plan.is_in(plan_ids_of_cases(_open_case_ids(viewer)))
    out: dict[int, dict[str, Any]] = defaultdict(
        lambda: {
            "total": 0,
            "finished": 0,
            "overdue": 0,
            "slipped": 0,
            "themes": defaultdict(lambda: [0, 0]),
        }
    )
    # grouping by theme too multiplies the rows; the commissioner's view has no use for it
    keys = (ACTION_CASE, Action.theme, Action.status) if by_theme else (ACTION_CASE, Action.status)
    selected = (ACTION_CASE_ID, *keys[1:])
    for r in await Action.select(*selected, Count(alias="n")).where(where).group_by(*keys):
        if r["status"] == DROPPED:  # out of the plan's counts
            continue
        c = out[r["case_id"]]
        done = r["status"] in FINISHED
        c["total"] += r["n"]
        c["finished"] += r["n"] if done else 0
        if by_theme:
            c["themes"][r["theme"]][0] += r["n"] if done else 0
            c["themes"][r["theme"]][1] += r["n"]
    today = clock.today()
    for r in (
        await Action.select(ACTION_CASE_ID, Count(alias="n"))
        .where(where & Action.status.not_in(list(SETTLED)) & (Action.due_on < today))
        .group_by(ACTION_CASE)
    ):
        out[r["case_id"]]["overdue"] = r["n"]
    moved_later = WhereRaw("plan_action.due_on > plan_action.first_due_on")
    for r in (
        await Action.select(ACTION_CASE_ID, Count(alias="n"))
        .where(where & Action.status.not_in(list(SETTLED)) & moved_later)
        .group_by(ACTION_CASE)
    ):
        out[r["case_id"]]["slipped"] = r["n"]
    return out


async def _finished_a_month_ago(viewer: Viewer) -> dict[int, int]:
    """Per open case, actions that were finished by 30 days ago (for the month's trend)."""
    month_ago = clock.today() - dt.timedelta(days=30)
    rows = (
        await Action.select(ACTION_CASE_ID, Count(alias="n"))
        .where(
            Action.plan.is_in(plan_ids_of_cases(_open_case_ids(viewer)))
            & Action.status.is_in(list(FINISHED))
            & (Action.done_on <= month_ago)
        )
        .group_by(ACTION_CASE)
    )
    return {r["case_id"]: r["n"] for r in rows}


async def _assessments(viewer: Viewer) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in (
        await SelfAssessment.select(
            SelfAssessment.service, SelfAssessment.assessed_on, SelfAssessment.projected_overall
        )
        .where(SelfAssessment.service.is_in(_scope(viewer)))
        .order_by(SelfAssessment.assessed_on)
        .order_by(SelfAssessment.id)
    ):
        out[r["service"]].append(r)
    return out


async def _levels(viewer: Viewer) -> dict[int, dict[str, Any]]:
    rows = await MonitoringStatus.select(
        MonitoringStatus.service,
        MonitoringStatus.level.name.as_alias("level_name"),
        MonitoringStatus.level.rank.as_alias("level_rank"),
        MonitoringStatus.review_on,
    ).where(
        (MonitoringStatus.commissioner == viewer.organisation_id)
        & MonitoringStatus.service.is_in(_scope(viewer))
    )
    return {r["service"]: r for r in rows}


# --- the commissioner's view ----------------------------------------------------------------


def _inadequate_since(case: dict[str, Any] | None, ratings: list[dict[str, Any]]):
    """The publication date of the Inadequate rating the service is recovering from."""
    if case and case["opening_overall"] == "inadequate" and case["published_on"]:
        return case["published_on"]
    if ratings and ratings[-1]["overall"] == "inadequate":
        return ratings[-1]["published_on"]
    return None


def _missed_reviews(case: dict[str, Any] | None, today: dt.date) -> int:
    if not case:
        return 0
    dates = (case["next_internal_review_on"], case["next_commissioner_review_on"])
    return sum(1 for d in dates if d and d < today)


def commissioner_row(
    service, level, ratings, case, counts, month_ago, assessments, today
) -> dict[str, Any]:
    latest = ratings[-1] if ratings else None
    since = _inadequate_since(case, ratings)
    total = counts["total"] if counts else 0
    finished = counts["finished"] if counts else 0
    progress = round(100 * finished / total) if total else None
    before = round(100 * month_ago / total) if total else None
    projected = assessments[-1]["projected_overall"] if assessments else ""
    previous = assessments[-2]["projected_overall"] if len(assessments) > 1 else ""
    reinspection = case["expected_reinspection_on"] if case else None
    if case and latest and case["published_on"] and latest["published_on"] > case["published_on"]:
        reinspection = None  # re-inspected and re-rated: no longer waiting for it
    return {
        "id": service["id"],
        "name": service["name"],
        "provider_name": service["provider_name"],
        "local_authority": service["local_authority"],
        "manager_left": manager_has_left(service),
        "level": level["level_name"] if level else "",
        "level_rank": level["level_rank"] if level else 0,
        "level_review_on": level["review_on"] if level else None,
        "rating": latest["overall"] if latest else "",
        "rating_label": RATING_LABELS.get(latest["overall"] if latest else "", ""),
        "rated_on": latest["published_on"] if latest else None,
        "special_measures": bool(case and case["special_measures"]),
        "case_id": case["id"] if case else None,
        "stage": STAGE_LABELS[Stage(case["stage"])] if case else "No open case",
        "days_since_inadequate": (today - since).days if since else None,
        "days_to_reinspection": (reinspection - today).days if reinspection else None,
        "progress": progress,
        "actions": total,
        "overdue": counts["overdue"] if counts else 0,
        "slipped": counts["slipped"] if counts else 0,
        "missed_reviews": _missed_reviews(case, today),
        "last_review_rag": case["last_review_rag"] if case else "",
        "last_review_on": case["last_review_on"] if case else None,
        "projected": projected,
        "projected_label": RATING_LABELS.get(projected, ""),
        "trend": _trend(progress, before, projected, previous),
    }


def _trend(progress, before, projected, previous) -> dict[str, Any]:
    """Since last month: plan progress points gained, and any move of the projection."""
    gained = (progress - before) if progress is not None and before is not None else None
    moved = 0
    if projected and previous:
        moved = RATING_ORDER.get(projected, 0) - RATING_ORDER.get(previous, 0)
    if moved > 0:
        word = "improving"
    elif moved < 0:
        word = "worsening"
    elif gained is None:
        word = "no plan"
    elif gained == 0:
        word = "stalled"
    else:
        word = "moving"
    return {"progress_points": gained, "projection_moved": moved, "word": word}


async def commissioner_view(viewer: Viewer, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Every service the organisation monitors, one row each, filtered and sorted. The
    rows are kept while the data does not change (improve.snapshots): sorting, filtering
    and the CSV reuse them."""
    if viewer.role not in (Role.COMMISSIONER, Role.ADMIN):
        raise Forbidden("This view is for commissioners")
    rows = await snapshots.kept(
        ("commissioner", *access.scope_key(viewer)), lambda: _commissioner_rows(viewer)
    )
    return sort_rows(filter_rows(rows, filters), filters)


async def _commissioner_rows(viewer: Viewer) -> list[dict[str, Any]]:
    """One row per monitored service, in a fixed number of queries whatever the number of
    services (tests count them at 10 and 200)."""
    services = await _services(viewer)
    levels = await _levels(viewer)
    ratings = await _ratings(viewer)
    cases = {c["service"]: c for c in await _cases(viewer)}
    counts = await _action_counts(viewer, by_theme=False)
    month_ago = await _finished_a_month_ago(viewer)
    assessments = await _assessments(viewer)
    today = clock.today()
    rows = []
    for s in services:
        case = cases.get(s["id"])
        cid = case["id"] if case else None
        rows.append(
            commissioner_row(
                s,
                levels.get(s["id"]),
                ratings.get(s["id"], []),
                case,
                counts.get(cid) if cid else None,
                month_ago.get(cid, 0) if cid else 0,
                assessments.get(s["id"], []),
                today,
            )
        )
    return rows


def filter_rows(rows: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    q = f.q.strip().lower()
    return [
        r
        for r in rows
        if (not f.level or r["level"] == f.level)
        and (not f.rating or r["rating"] == f.rating)
        and (not f.special_measures or r["special_measures"])
        and (not f.overdue or r["overdue"] > 0)
        and (not q or q in r["name"].lower() or q in r["provider_name"].lower())
    ]


def _concern(r: dict[str, Any]) -> tuple:
    """Most concern first: level, special measures, overdue actions, missed reviews."""
    return (
        -r["level_rank"],
        not r["special_measures"],
        -r["overdue"],
        -r["missed_reviews"],
        r["name"].lower(),
    )


def sort_rows(rows: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    if f.sort == "concern" or f.sort not in SORTS:
        return sorted(rows, key=_concern, reverse=f.descending)
    keys = {
        "name": lambda r: r["name"].lower(),
        "level": lambda r: r["level_rank"],
        "rating": lambda r: RATING_ORDER.get(r["rating"], 0),
        "projected": lambda r: RATING_ORDER.get(r["projected"], 0),
    }
    key = keys.get(f.sort, lambda r: r[f.sort])
    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]  # blanks last, whichever way
    return sorted(present, key=key, reverse=f.descending) + missing


def totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The figures a commissioner reads first, over the rows shown."""
    return {
        "services": len(rows),
        "special_measures": sum(1 for r in rows if r["special_measures"]),
        "overdue_services": sum(1 for r in rows if r["overdue"]),
        "overdue_actions": sum(r["overdue"] for r in rows),
        "missed_reviews": sum(1 for r in rows if r["missed_reviews"]),
        "stalled": sum(1 for r in rows if r["trend"]["word"] in ("stalled", "worsening")),
    }


COMMISSIONER_CSV = (
    ("Service", "name"),
    ("Provider", "provider_name"),
    ("Local authority", "local_authority"),
    ("Monitoring level", "level"),
    ("Level review on", "level_review_on"),
    ("Current rating", "rating_label"),
    ("Rated on", "rated_on"),
    ("Special measures", "special_measures"),
    ("Stage", "stage"),
    ("Days since Inadequate", "days_since_inadequate"),
    ("Days to expected re-inspection", "days_to_reinspection"),
    ("Plan progress %", "progress"),
    ("Overdue actions", "overdue"),
    ("Actions moved later than first agreed", "slipped"),
    ("Missed reviews", "missed_reviews"),
    ("Last review RAG", "last_review_rag"),
    ("Projected rating", "projected_label"),
    ("Trend since last month", "trend_word"),
    ("Manager has left", "manager_left"),
)


def csv_rows(rows: list[dict[str, Any]], columns) -> tuple[list[str], list[list[Any]]]:
    header = [c[0] for c in columns]
    body = []
    for r in rows:
        r = {**r, "trend_word": r.get("trend", {}).get("word", "")}
        body.append([_cell(r.get(key)) for _, key in columns])
    return header, body


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


# --- the quality team's view ----------------------------------------------------------------


def _milestones(case, ratings, events) -> dict[str, int | None]:
    """Days from the Inadequate rating to: plan agreed, first green review, re-rated."""
    start = case["published_on"] or case["opened_on"]
    agreed = next(
        (
            e["at"].date()
            for e in events
            if (e["after"] or {}).get("stage")
            in (Stage.PLAN_AGREED, Stage.DELIVERING, Stage.AWAITING_REINSPECTION)
        ),
        None,
    )
    green = case["first_green_review_on"]
    rerated = next((r["published_on"] for r in ratings if r["published_on"] > start), None)
    return {
        "plan_agreed": (agreed - start).days if agreed else None,
        "first_green_review": (green - start).days if green else None,
        "rerated": (rerated - start).days if rerated else None,
    }


async def _stage_events(viewer: Viewer) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for e in (
        await AuditEvent.select(AuditEvent.case, AuditEvent.at, AuditEvent.after)
        .where(
            AuditEvent.service.is_in(_scope(viewer))
            & (AuditEvent.entity == "case")
            & (AuditEvent.action == "stage_changed")
        )
        .order_by(AuditEvent.at)
        .output(load_json=True)
    ):
        out[e["case"]].append(e)
    return out


async def _templates_of_cases(case_ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    if case_ids:
        for r in await Action.select(ACTION_CASE_ID, Action.template_id, Action.title).where(
            Action.plan.is_in(plan_ids_of_cases(case_ids))
        ):
            out[r["case_id"]].add(r["title"])
    return out


async def quality_view(viewer: Viewer) -> dict[str, Any]:
    """The provider's homes side by side, kept while the data does not change."""
    if viewer.role not in (Role.QUALITY_LEAD, Role.ADMIN):
        raise Forbidden("This view is for a provider's quality team")
    return await snapshots.kept(("quality", *access.scope_key(viewer)), lambda: _homes(viewer))


async def _homes(viewer: Viewer) -> dict[str, Any]:
    """A fixed number of queries whatever the number of homes (tests count them)."""
    from improve.measures import domain as measures
    from improve.measures import summaries

    services = await _services(viewer)
    ratings = await _ratings(viewer)
    all_cases = await _cases(viewer, closed_too=True)
    counts = await _action_counts(viewer, by_theme=True)
    assessments = await _assessments(viewer)
    events = await _stage_events(viewer)
    kept = await summaries.of_services(_scope(viewer))
    custom = await measures.definitions_of({s["provider"] for s in services})
    open_cases = {c["service"]: c for c in all_cases if c["stage"] != Stage.CLOSED}
    homes = []
    for s in services:
        case = open_cases.get(s["id"])
        c = counts.get(case["id"]) if case else None
        homes.append(
            {
                "id": s["id"],
                "name": s["name"],
                "manager_left": manager_has_left(s),
                "case_id": case["id"] if case else None,
                "stage": STAGE_LABELS[Stage(case["stage"])] if case else "No open case",
                "rating": RATING_LABELS.get(ratings[s["id"]][-1]["overall"], "")
                if ratings.get(s["id"])
                else "Not rated",
                "progress": round(100 * c["finished"] / c["total"]) if c and c["total"] else None,
                "overdue": c["overdue"] if c else 0,
                "slipped": c["slipped"] if c else 0,
                "themes": _theme_heat(c),
                "milestones": _milestones(
                    case,
                    ratings.get(s["id"], []),
                    events.get(case["id"], []),
                )
                if case
                else {},
                "projected": RATING_LABELS.get(assessments[s["id"]][-1]["projected_overall"], "")
                if assessments.get(s["id"])
                else "",
                "signals": _signals(
                    kept.get(s["id"], {}),
                    measures.measures_for(s["service_type"], custom.get(s["provider"], [])),
                ),
            }
        )
    finished = await _finished_journeys(all_cases, ratings, services)
    return {"homes": homes, "themes": THEMES, "finished": finished}


def _theme_heat(counts) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for theme in THEMES:
        done, total = counts["themes"].get(theme, (0, 0)) if counts else (0, 0)
        out[theme] = round(100 * done / total) if total else None
    return out


def _signals(kept: dict[str, dict], measures_of_service) -> list[dict[str, Any]]:
    """The latest value and latest run-chart signal of each measure the home records
    (kept as figures are saved: improve.measures.summaries)."""
    return [_signal_row(m, kept[m.key]) for m in measures_of_service if m.key in kept]


def _signal_row(m, kept: dict[str, Any]) -> dict[str, Any]:
    """One measure's line, with its words ready (fifty homes × sixteen measures)."""
    latest, sig = kept["latest_value"], kept["signal"]
    improving = sig["improving"] if sig else None
    unit = "%" if m.unit == "%" else (f" {m.unit}" if m.unit else "")
    return {
        "key": m.key,
        "name": m.name,
        "unit": m.unit,
        "latest": latest,
        "figure": f"{latest:g}{unit}",
        "signal": sig,
        "tone": {True: "good", False: "bad"}.get(improving, "plain"),
        "label": (sig["kind"] + {True: " (improving)", False: " (worsening)"}.get(improving, ""))
        if sig
        else "",
    }


async def _finished_journeys(all_cases, ratings, services) -> dict[str, Any]:
    """Closed journeys that recovered: days from Inadequate to Requires improvement or
    Good, and the actions most of their plans had in common."""
    names = {s["id"]: s["name"] for s in services}
    done = []
    for c in all_cases:
        if c["stage"] != Stage.CLOSED or c["outcome"] != "improved":
            continue
        start = c["published_on"] or c["opened_on"]
        end = c["closing_published_on"] or next(
            (
                r["published_on"]
                for r in ratings.get(c["service"], [])
                if r["published_on"] > start and r["overall"] != "inadequate"
            ),
            None,
        )
        reached = c["closing_overall"] or next(
            (
                r["overall"]
                for r in ratings.get(c["service"], [])
                if r["published_on"] > start and r["overall"] != "inadequate"
            ),
            "",
        )
        done.append(
            {
                "case_id": c["id"],
                "service": names.get(c["service"], ""),
                "days": (end - start).days if end else None,
                "reached": RATING_LABELS[reached] if reached else "Improved",
            }
        )
    titles = await _templates_of_cases([d["case_id"] for d in done])
    common = Counter(t for ts in titles.values() for t in ts)
    shared = [
        {"title": t, "plans": n}
        for t, n in common.most_common(10)
        if len(done) > 1 and n >= max(2, (len(done) + 1) // 2)
    ]
    days = sorted(d["days"] for d in done if d["days"] is not None)
    return {
        "journeys": sorted(done, key=lambda d: (d["days"] is None, d["days"])),
        "median_days": days[len(days) // 2] if days else None,
        "common_actions": shared,
    }


QUALITY_CSV_BASE = (
    ("Home", "name"),
    ("Stage", "stage"),
    ("Current rating", "rating"),
    ("Projected rating", "projected"),
    ("Plan progress %", "progress"),
    ("Overdue actions", "overdue"),
    ("Actions moved later than first agreed", "slipped"),
    ("Days to plan agreed", "plan_agreed"),
    ("Days to first green review", "first_green_review"),
    ("Days to re-rating", "rerated"),
    ("Manager has left", "manager_left"),
)


def quality_csv(view: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    header = [c[0] for c in QUALITY_CSV_BASE] + [f"{t} %" for t in view["themes"].values()]
    body = []
    for h in view["homes"]:
        flat = {**h, **h["milestones"]}
        body.append(
            [_cell(flat.get(k)) for _, k in QUALITY_CSV_BASE]
            + [_cell(h["themes"][t]) for t in view["themes"]]
        )
    return header, body
