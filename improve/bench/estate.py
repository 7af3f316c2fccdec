"""Builds the benchmark's estate: a large database written in bulk.

The schema comes from the committed migrations (run by ``improve.bench.prepare``); the
rows are written through the Piccolo tables in chunks of CHUNK rows inside write
transactions. Domain functions are not called per row: the point is the size of the
estate, not the journey to it. Dates are relative to today, so reminders, overdue
actions and missed reviews fall as they would in a live installation.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from piccolo.table import Table

from improve import clock, db, framework
from improve.accounts import passwords
from improve.accounts.tables import Organisation, Role, User
from improve.assessments.tables import SelfAssessment
from improve.cases.tables import AuditEvent, Case, Finding
from improve.measures import summaries
from improve.measures.tables import MeasureValue
from improve.monitoring.domain import DEFAULT_LEVELS
from improve.monitoring.tables import MonitoringLevel, MonitoringStatus
from improve.plans import playbooks
from improve.plans.tables import Action, ActionFinding, ActionNote, Plan
from improve.reminders.tables import Notification, Outbox
from improve.reviews.domain import keep_summary as keep_review_summaries
from improve.reviews.tables import Review
from improve.services.tables import Commissioning, Enforcement, Rating, Service

CHUNK = 500  # rows per INSERT: well under SQLite's and asyncpg's bound-parameter limits
PASSWORD = "bench password, never used to log in"  # noqa: S105 (hashed once, reused)
# Eight measures a home tracks monthly: (key, start, monthly change, noise).
MEASURES = (
    ("staff_turnover", 38.0, -0.5, 2.0),
    ("vacancy_rate", 12.0, -0.2, 1.0),
    ("sickness_days", 7.0, -0.1, 0.8),
    ("agency_hours_share", 25.0, -0.6, 3.0),
    ("training_completion", 62.0, 1.2, 4.0),
    ("supervision_completed", 55.0, 1.5, 5.0),
    ("falls", 9.0, -0.2, 2.0),
    ("medication_errors", 6.0, -0.15, 1.5),
)
STAGE_PATH = (
    "assessing",
    "plan_drafted",
    "plan_agreed",
    "delivering",
    "awaiting_reinspection",
    "sustaining",
)
KEY_QUESTIONS = ("safe", "well_led", "effective", "responsive", "caring")


@dataclass(frozen=True)
class Scale:
    services: int = 1000
    providers: int = 20
    commissioners: int = 30
    actions: int = 50  # per case
    months: int = 24  # of measures
    sample: int = 200  # cases (and their managers) the load is spread over
    seed: int = 8


@dataclass
class Home:
    """What later tables need to know about one service and its case."""

    index: int
    service: int
    provider: int  # index into Estate.providers
    manager: int  # user id
    published_on: dt.date
    stage: str
    special: bool
    rating: int = 0
    recovered_on: dt.date | None = None  # a later Requires improvement (sustaining)
    case: int = 0
    plan: int = 0
    started_on: dt.date = dt.date.min
    findings: list[int] = field(default_factory=list)
    commissioners: list[int] = field(default_factory=list)  # indexes


@dataclass
class Estate:
    scale: Scale
    today: dt.date
    rng: random.Random
    providers: list[dict[str, Any]] = field(default_factory=list)  # org id, name, lead
    commissioners: list[dict[str, Any]] = field(default_factory=list)  # org id, name, user
    operator: int = 0  # the operator organisation's id
    managers: list[int] = field(default_factory=list)  # user id of each home's manager
    homes: list[Home] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)  # id, home, status
    rows: dict[str, int] = field(default_factory=dict)  # table name -> rows written


# --- writing -----------------------------------------------------------------------------


def _chunks(rows: Iterable[Table], size: int) -> Iterator[list[Table]]:
    batch: list[Table] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def insert(estate: Estate, table: type[Table], rows: Iterable[Table]) -> list[int]:
    """Write ``rows`` in chunks inside one write transaction; their ids in row order.

    Ids are sorted per chunk: nothing else writes, so one INSERT's ids are consecutive
    in VALUES order, whatever order RETURNING gives them back in.
    """
    ids: list[int] = []
    async with db.write_tx():
        for chunk in _chunks(rows, CHUNK):
            returned = await table.insert(*chunk).returning(table.id)
            ids += sorted(r["id"] for r in returned)
    name = table._meta.tablename
    estate.rows[name] = estate.rows.get(name, 0) + len(ids)
    return ids


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour % 24), tzinfo=dt.UTC)


def _clip(day: dt.date, today: dt.date) -> dt.date:
    return min(day, today)


# --- organisations and people -------------------------------------------------------------


async def organisations(estate: Estate) -> None:
    s, now = estate.scale, clock.now()
    orgs = [Organisation(name="Bench operator", slug="bench-operator", kind="operator")]
    orgs += [
        Organisation(name=f"Provider {p:02d} Care Ltd", slug=f"bench-provider-{p}", kind="provider")
        for p in range(s.providers)
    ]
    orgs += [
        Organisation(name=f"County {c:02d} Council", slug=f"bench-council-{c}", kind="commissioner")
        for c in range(s.commissioners)
    ]
    for org in orgs:
        org.created_at = now
    ids = await insert(estate, Organisation, orgs)
    estate.providers = [{"org": ids[1 + p], "name": orgs[1 + p].name} for p in range(s.providers)]
    estate.commissioners = [
        {"org": ids[1 + s.providers + c], "name": orgs[1 + s.providers + c].name}
        for c in range(s.commissioners)
    ]
    estate.operator = ids[0]


def _user(email: str, name: str, org: int, role: Role, password_hash: str) -> User:
    return User(
        email=email,
        name=name,
        organisation=org,
        role=role,
        password_hash=password_hash,
        active=True,
        created_at=clock.now(),
    )


async def people(estate: Estate) -> None:
    """An admin; a quality lead per provider; a commissioner per council; a manager per
    home. argon2 is slow by design, so one hash serves everyone."""
    hashed = passwords.hash_password(PASSWORD)
    s = estate.scale
    users = [_user("admin@bench.example", "Bench Admin", estate.operator, Role.ADMIN, hashed)]
    for p, prov in enumerate(estate.providers):
        users.append(
            _user(f"lead{p}@bench.example", f"Lead {p}", prov["org"], Role.QUALITY_LEAD, hashed)
        )
    for c, com in enumerate(estate.commissioners):
        users.append(
            _user(
                f"council{c}@bench.example", f"Officer {c}", com["org"], Role.COMMISSIONER, hashed
            )
        )
    for i in range(s.services):
        org = estate.providers[i % s.providers]["org"]
        users.append(
            _user(f"manager{i}@bench.example", f"Manager {i}", org, Role.REGISTERED_MANAGER, hashed)
        )
    ids = await insert(estate, User, users)
    for p, prov in enumerate(estate.providers):
        prov["lead"] = ids[1 + p]
    for c, com in enumerate(estate.commissioners):
        com["user"] = ids[1 + s.providers + c]
    estate.managers = ids[1 + s.providers + s.commissioners :]


# --- services, ratings, cases --------------------------------------------------------------


def _plan_home(estate: Estate, i: int, service_id: int) -> Home:
    """Age of the Inadequate rating spread over two years; the stage follows the age."""
    age = 30 + (i * 677) % 700
    if age < 40:
        stage = "assessing" if i % 2 else "plan_drafted"
    elif age < 75:
        stage = "plan_agreed"
    elif age < 420:
        stage = "delivering"
    elif age < 600:
        stage = "awaiting_reinspection"
    else:
        stage = "sustaining"
    s = estate.scale
    home = Home(
        index=i,
        service=service_id,
        provider=i % s.providers,
        manager=estate.managers[i],
        published_on=estate.today - dt.timedelta(days=age),
        stage=stage,
        special=i % 2 == 0,
    )
    if stage == "sustaining":
        home.recovered_on = home.published_on + dt.timedelta(days=540)
    home.commissioners = sorted({i % s.commissioners, (i * 7 + 3) % s.commissioners})[: 1 + i % 2]
    return home


async def services(estate: Estate) -> None:
    s = estate.scale
    kinds = ("care_home", "care_home_nursing", "care_home", "home_care")
    rows = [
        Service(
            name=f"{('Oak', 'Elm', 'Ash', 'Birch', 'Willow')[i % 5]} House {i:04d}",
            provider=estate.providers[i % s.providers]["org"],
            service_type=kinds[i % len(kinds)],
            local_authority=estate.commissioners[i % s.commissioners]["name"],
            beds=None if kinds[i % len(kinds)] == "home_care" else 20 + i % 60,
            manager=estate.managers[i],
            created_at=clock.now(),
            cqc_location_id=f"1-{1_000_000_000 + i}",
            registered_manager_name=f"Manager {i}",
            address=f"{i} High Street",
            postcode=f"AB{i % 90 + 1} {i % 9}CD",
        )
        for i in range(s.services)
    ]
    ids = await insert(estate, Service, rows)
    estate.homes = [_plan_home(estate, i, sid) for i, sid in enumerate(ids)]
    await insert(
        estate,
        Commissioning,
        (
            Commissioning(service=h.service, commissioner=estate.commissioners[c]["org"])
            for h in estate.homes
            for c in h.commissioners
        ),
    )


def _rating(service: int, on: dt.date, overall: str, key: str) -> Rating:
    return Rating(
        service=service,
        published_on=on,
        overall=overall,
        safe=key,
        effective="requires_improvement",
        caring="good",
        responsive="requires_improvement",
        well_led=key,
        source="cqc_api",
        created_at=clock.now(),
    )


async def ratings(estate: Estate) -> None:
    """A Requires improvement three years back, the Inadequate one the case opened from,
    and, for sustaining cases, the Requires improvement it recovered to."""
    earlier = dt.timedelta(days=1100)
    await insert(
        estate,
        Rating,
        (
            _rating(h.service, h.published_on - earlier, "requires_improvement", "good")
            for h in estate.homes
        ),
    )
    ids = await insert(
        estate,
        Rating,
        (_rating(h.service, h.published_on, "inadequate", "inadequate") for h in estate.homes),
    )
    for h, rating_id in zip(estate.homes, ids, strict=True):
        h.rating = rating_id
    recovered = [h for h in estate.homes if h.recovered_on]
    await insert(
        estate,
        Rating,
        (
            _rating(h.service, h.recovered_on, "requires_improvement", "requires_improvement")
            for h in recovered
        ),
    )
    await insert(estate, Enforcement, _enforcements(estate))


def _enforcements(estate: Estate) -> Iterator[Enforcement]:
    for h in estate.homes:
        if h.special:
            yield Enforcement(
                service=h.service,
                rating=h.rating,
                kind="special_measures",
                issued_on=h.published_on,
                created_at=clock.now(),
            )
        if h.index % 3 == 0:  # a warning notice with a compliance date
            yield Enforcement(
                service=h.service,
                rating=h.rating,
                kind="warning_notice",
                regulation="12",
                description="Safe care and treatment: medicines were not managed safely.",
                issued_on=h.published_on,
                compliance_due_on=h.published_on + dt.timedelta(days=60 + h.index % 90),
                created_at=clock.now(),
            )


def _case_row(estate: Estate, h: Home) -> Case:
    today = estate.today
    reinspection = max(
        h.published_on + dt.timedelta(days=180), today + dt.timedelta(days=h.index % 120)
    )
    # a sixth of homes missed their last internal review; the rest are due soon
    internal = today + dt.timedelta(days=(h.index % 28) - (10 if h.index % 6 == 0 else 0))
    return Case(
        service=h.service,
        opening_rating=h.rating,
        stage=h.stage,
        special_measures=h.special,
        special_measures_since=h.published_on if h.special else None,
        opened_on=h.published_on + dt.timedelta(days=1),
        published_on=h.published_on,
        action_plan_due_on=h.published_on + dt.timedelta(days=28),
        expected_reinspection_on=reinspection,
        sustain_until=(h.recovered_on + dt.timedelta(days=365)) if h.recovered_on else None,
        created_by=estate.providers[h.provider]["lead"],
        created_at=_at(h.published_on + dt.timedelta(days=1)),
        version=1 + len(STAGE_PATH[: STAGE_PATH.index(h.stage)]),
        internal_review_days=28,
        commissioner_review_days=56,
        next_internal_review_on=internal,
        next_commissioner_review_on=today + dt.timedelta(days=(h.index * 5) % 56 - 4),
    )


async def cases(estate: Estate) -> None:
    ids = await insert(estate, Case, (_case_row(estate, h) for h in estate.homes))
    for h, case_id in zip(estate.homes, ids, strict=True):
        h.case = case_id
        h.started_on = _clip(h.published_on + dt.timedelta(days=10), estate.today)
    await findings(estate)
    plan_ids = await insert(
        estate,
        Plan,
        (
            Plan(
                case=h.case,
                started_on=h.started_on,
                playbook_versions={b.id: b.version for b in playbooks.standard().values()},
                created_by=h.manager,
                created_at=_at(h.started_on),
            )
            for h in estate.homes
        ),
    )
    for h, plan_id in zip(estate.homes, plan_ids, strict=True):
        h.plan = plan_id


async def findings(estate: Estate) -> None:
    """Four breaches per case, each on a real quality statement of the framework."""
    statements = [i for i in framework.get("saf").items.values() if i.key_question in KEY_QUESTIONS]
    per_case = 4
    rows = []
    for h in estate.homes:
        for item in estate.rng.sample(statements, per_case):
            rows.append(
                Finding(
                    case=h.case,
                    framework="saf",
                    regulation=item.regulations[0] if item.regulations else "17",
                    key_question=item.key_question,
                    items=[item.id],
                    description=f"Inspectors found {item.title.lower()} was not assured.",
                    source="cqc_inspection",
                    severity=("high", "medium")[len(rows) % 2],
                    created_by=h.manager,
                    created_at=_at(h.published_on + dt.timedelta(days=1)),
                )
            )
    ids = await insert(estate, Finding, rows)
    for n, h in enumerate(estate.homes):
        h.findings = ids[n * per_case : (n + 1) * per_case]


# --- actions ---------------------------------------------------------------------------------


def _status(rng: random.Random, due_on: dt.date, today: dt.date) -> str:
    """Past due: mostly finished, a fifth overdue. Future: mostly not started yet."""
    r = rng.random()
    if due_on < today:
        table = ((0.5, "verified"), (0.8, "done"), (0.9, "in_progress"), (0.95, "not_started"))
    elif (due_on - today).days < 30:
        table = ((0.15, "done"), (0.55, "in_progress"), (0.95, "not_started"))
    else:
        table = ((0.05, "done"), (0.25, "in_progress"), (0.97, "not_started"))
    return next((status for bound, status in table if r < bound), "blocked")


@cache
def _templates() -> tuple[list[Any], dict[str, Any]]:
    """The shipped playbooks' actions in order, and the playbook of each."""
    books = playbooks.standard().values()
    return [a for b in books for a in b.actions], {a.id: b for b in books for a in b.actions}


def _action(estate: Estate, h: Home, j: int) -> Action:
    rng, today, s = estate.rng, estate.today, estate.scale
    templates, books = _templates()
    lead = estate.providers[h.provider]["lead"]
    due_on = h.started_on + dt.timedelta(days=14 + j * 350 // s.actions + rng.randint(0, 10))
    status = _status(rng, due_on, today)
    owner = rng.choices((h.manager, lead, None), weights=(7, 2, 1))[0]
    row = Action(
        plan=h.plan,
        owner=owner,
        due_on=due_on,
        first_due_on=due_on,
        status=status,
        created_at=_at(h.started_on),
        version=1 if status == "not_started" else 2,
    )
    if j < len(templates):
        t = templates[j]
        row.template_id, row.playbook_id = t.id, books[t.id].id
        row.playbook_version, row.theme, row.title = books[t.id].version, t.theme, t.title
        row.steps, row.why, row.evidence_expected = list(t.steps), t.why, list(t.evidence)
        row.measure = t.measure if j % 4 != 3 else None
        row.owner_role = t.owner_role
    else:  # more actions than templates: the manager's own
        row.theme = tuple(playbooks.THEMES)[j % len(playbooks.THEMES)]
        row.title = f"Own action {j}: check the {row.theme.replace('_', ' ')} plan weekly"
        row.steps = ["Agree who checks", "Record what was found"]
    if status == "blocked":
        row.blocked_reason = "Waiting for the training provider's dates."
    if status in ("done", "verified"):
        row.done_on = max(
            h.started_on, _clip(due_on - dt.timedelta(days=rng.randint(0, 21)), today)
        )
        row.done_by = owner or h.manager
    if status == "verified":
        row.verified_on = _clip(row.done_on + dt.timedelta(days=rng.randint(1, 14)), today)
        row.verified_by = lead if row.done_by != lead else h.manager
        row.verification_note = "Checked the records for the last month: it holds."
        row.version = 3
    return row


async def actions(estate: Estate) -> None:
    """``scale.actions`` per case from the shipped playbooks, each answering a finding."""
    rows = [(h, _action(estate, h, j)) for h in estate.homes for j in range(estate.scale.actions)]
    ids = await insert(estate, Action, (r for _, r in rows))
    estate.actions = [
        {
            "id": action_id,
            "home": h,
            "status": r.status,
            "version": r.version,
            "title": r.title,
            "done_on": r.done_on,
            "verified_on": r.verified_on,
            "due_on": r.due_on,
        }
        for (h, r), action_id in zip(rows, ids, strict=True)
    ]
    await insert(
        estate,
        ActionFinding,
        (
            ActionFinding(action=a["id"], finding=a["home"].findings[n % len(a["home"].findings)])
            for n, a in enumerate(estate.actions)
        ),
    )
    await insert(estate, ActionNote, _notes(estate))


def _notes(estate: Estate) -> Iterator[ActionNote]:
    for n, a in enumerate(estate.actions):
        if n % 3 == 0 and a["status"] != "not_started":
            h = a["home"]
            on = a["done_on"] or _clip(a["due_on"] - dt.timedelta(days=5), estate.today)
            yield ActionNote(
                action=a["id"],
                author=h.manager,
                author_name=f"Manager {h.index}",
                at=_at(max(on, h.started_on), 15),
                text="Talked it through at the team meeting; the rota now shows who does it.",
            )


# --- reviews, assessments, measures, monitoring ---------------------------------------------


def _rag(rng: random.Random, progress: float) -> str:
    """Red early in a journey, amber in the middle, green more often later."""
    r = rng.random() + progress
    return "red" if r < 0.7 else "amber" if r < 1.4 else "green"


def _review_dates(h: Home, every: int, today: dt.date) -> list[dt.date]:
    first = h.started_on + dt.timedelta(days=14)
    count = max(0, (today - first).days // every + 1)
    return [first + dt.timedelta(days=every * k) for k in range(count)]


def _reviews(estate: Estate) -> Iterator[Review]:
    rng, today = estate.rng, estate.today
    for h in estate.homes:
        span = max(1, (today - h.started_on).days)
        for audience, every in (("internal", 28), ("commissioner", 56)):
            for held_on in _review_dates(h, every, today):
                progress = (held_on - h.started_on).days / span
                yield Review(
                    case=h.case,
                    audience=audience,
                    held_on=held_on,
                    attendees=f"Manager {h.index}; Lead {h.provider}",
                    rag={t: _rag(rng, progress) for t in playbooks.THEMES},
                    overall_rag=_rag(rng, progress),
                    confidence=rng.choice(("low", "medium", "high")),
                    notes="Went through the plan action by action.",
                    decisions="Keep the weekly audit going.",
                    recorded_by=h.manager,
                    recorded_by_name=f"Manager {h.index}",
                    recorded_at=_at(held_on, 16),
                )


def _assessments(estate: Estate) -> Iterator[SelfAssessment]:
    """Every quarter since the rating; the projection climbs over time."""
    ladder = ("inadequate", "requires_improvement", "requires_improvement", "good")
    for h in estate.homes:
        on, n = h.published_on + dt.timedelta(days=21), 0
        while on <= estate.today:
            projected = ladder[min(n, len(ladder) - 1)]
            yield SelfAssessment(
                service=h.service,
                case=h.case,
                assessed_on=on,
                breach=n < 2,
                projected_overall=projected,
                results={kq: {"rating": projected, "percent": 40 + 10 * n} for kq in KEY_QUESTIONS},
                assessed_by=h.manager,
                created_at=_at(on),
            )
            on, n = on + dt.timedelta(days=91), n + 1


def _months(today: dt.date, count: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    for k in range(count, 0, -1):
        y, m = divmod(first.year * 12 + first.month - 1 - k, 12)
        out.append(dt.date(y, m + 1, 1))
    return out


def _measure_values(estate: Estate) -> Iterator[MeasureValue]:
    rng, now = estate.rng, clock.now()
    months = _months(estate.today, estate.scale.months)
    for h in estate.homes:
        for key, start, step, noise in MEASURES:
            for k, month in enumerate(months):
                value = max(0.0, start + step * k + rng.gauss(0, noise))
                yield MeasureValue(
                    service=h.service,
                    measure=key,
                    month=month,
                    value=round(value, 1),
                    source="csv",
                    entered_by=h.manager,
                    updated_at=now,
                )


async def monitoring(estate: Estate) -> None:
    """Each council's four usual levels; every home it commissions held at one of them."""
    now = clock.now()
    levels = await insert(
        estate,
        MonitoringLevel,
        (
            MonitoringLevel(
                commissioner=c["org"],
                name=name,
                rank=rank,
                review_every_days=days,
                description=text,
                created_at=now,
            )
            for c in estate.commissioners
            for name, rank, days, text in DEFAULT_LEVELS
        ),
    )
    per_org = len(DEFAULT_LEVELS)
    rows = []
    for h in estate.homes:
        for c in h.commissioners:
            rank = (3 if h.special else 1) + h.index % 2  # 1-based: special measures is higher
            rows.append(
                MonitoringStatus(
                    service=h.service,
                    commissioner=estate.commissioners[c]["org"],
                    level=levels[c * per_org + rank - 1],
                    review_on=estate.today + dt.timedelta(days=(h.index * 13) % 60 - 10),
                    note="Visit booked with the manager.",
                    set_by=estate.commissioners[c]["user"],
                    set_at=now,
                )
            )
    await insert(estate, MonitoringStatus, rows)


# --- history -------------------------------------------------------------------------------


def _event(h: Home, on: dt.date, entity: str, entity_id: int, action: str, summary: str, **kw):
    return AuditEvent(
        at=_at(on, 9 + entity_id % 8),
        actor=h.manager,
        actor_name=f"Manager {h.index}",
        service=h.service,
        case=h.case,
        entity=entity,
        entity_id=entity_id,
        action=action,
        summary=summary[:300],
        before=kw.get("before"),
        after=kw.get("after"),
    )


def _stage_dates(h: Home) -> dict[str, dt.date]:
    start = h.started_on
    return {
        "plan_drafted": start,
        "plan_agreed": start + dt.timedelta(days=14),
        "delivering": start + dt.timedelta(days=20),
        "awaiting_reinspection": h.published_on + dt.timedelta(days=420),
        "sustaining": h.recovered_on or h.published_on + dt.timedelta(days=600),
    }


def _case_events(h: Home, today: dt.date) -> Iterator[AuditEvent]:
    opened = h.published_on + dt.timedelta(days=1)
    yield _event(h, opened, "case", h.case, "opened", "Case opened", after={"stage": "assessing"})
    for f in h.findings:
        yield _event(h, opened, "finding", f, "added", "Finding added")
    previous = "assessing"
    for stage in STAGE_PATH[1 : STAGE_PATH.index(h.stage) + 1]:
        on = _clip(_stage_dates(h)[stage], today)
        yield _event(
            h,
            on,
            "case",
            h.case,
            "stage_changed",
            f"{previous} → {stage}",
            before={"stage": previous},
            after={"stage": stage},
        )
        previous = stage


def _action_events(estate: Estate) -> Iterator[AuditEvent]:
    for a in estate.actions:
        h = a["home"]
        yield _event(
            h,
            h.started_on,
            "action",
            a["id"],
            "added",
            f"Action added: {a['title']}",
            after={"title": a["title"], "due_on": a["due_on"].isoformat()},
        )
        if a["status"] != "not_started":
            on = a["done_on"] or _clip(a["due_on"] - dt.timedelta(days=20), estate.today)
            on = max(on, h.started_on)
            yield _event(
                h,
                on,
                "action",
                a["id"],
                "changed",
                f"{a['title']}: changed",
                after={"status": "in_progress"},
            )
        if a["verified_on"]:
            yield _event(
                h,
                a["verified_on"],
                "action",
                a["id"],
                "changed",
                f"{a['title']}: Verified",
                after={"status": "verified"},
            )


def _history(estate: Estate, reviews: list[Review], review_ids: list[int]) -> Iterator[AuditEvent]:
    """About two years of a case's life: opening, findings, stage moves, every action
    added and moved on, every review recorded."""
    by_case = {h.case: h for h in estate.homes}
    for h in estate.homes:
        yield from _case_events(h, estate.today)
    yield from _action_events(estate)
    for r, review_id in zip(reviews, review_ids, strict=True):
        h = by_case[r.case]
        summary = f"Review held: {r.overall_rag}"
        yield _event(h, r.held_on, "review", review_id, "recorded", summary)


# --- reminders earlier scans sent ---------------------------------------------------------


async def sent_reminders(estate: Estate) -> None:
    """Every reminder due up to yesterday, as the scans of a live installation would have
    written and sent them. The scan's own rules find them (its writer is swapped for a
    collector); they are then written in bulk, so the timed scan does a normal day's work
    rather than a one-off catch-up of the whole estate's history."""
    from improve.reminders import mail, outbox
    from jobs import reminders

    found: dict[str, tuple[Any, dict[str, Any]]] = {}

    async def collect(reminder, user) -> bool:
        found.setdefault(reminder.dedupe_key, (reminder, user))
        return True

    yesterday = clock.now() - dt.timedelta(days=1)
    writer, outbox.enqueue = outbox.enqueue, collect
    try:
        await reminders.scan(now=yesterday)
    finally:
        outbox.enqueue = writer
    emails, notes = [], []
    for reminder, user in found.values():
        context = {"name": user["name"], "subject_of": reminder.subject_of, "on": reminder.on}
        subject, text, html = mail.render(reminder.kind, {**context, "link": reminder.link})
        emails.append(
            Outbox(
                kind=reminder.kind,
                dedupe_key=reminder.dedupe_key,
                user=reminder.user_id,
                email=user["email"],
                subject=subject,
                text_body=text,
                html_body=html,
                headers={},
                case=reminder.case_id,
                status="sent",
                attempts=1,
                claimed_at=yesterday,
                sent_at=yesterday,
                created_at=yesterday,
            )
        )
        title = outbox.TITLES[reminder.kind].format(
            on=reminder.on.strftime("%-d %b"), about=reminder.subject_of
        )
        notes.append(
            Notification(
                user=reminder.user_id,
                kind=reminder.kind,
                title=title[:300],
                link=reminder.link,
                created_at=yesterday,
                read_at=yesterday if len(notes) % 4 else None,  # a quarter still unread
            )
        )
    await insert(estate, Outbox, emails)
    await insert(estate, Notification, notes)


# --- the whole estate -----------------------------------------------------------------------


async def build(scale: Scale) -> Estate:
    estate = Estate(scale=scale, today=clock.today(), rng=random.Random(scale.seed))  # noqa: S311
    await organisations(estate)
    await people(estate)
    await services(estate)
    await ratings(estate)
    await cases(estate)
    await actions(estate)
    reviews = list(_reviews(estate))
    review_ids = await insert(estate, Review, reviews)
    await keep_review_summaries()  # as recording each review would have (the same SQL)
    await insert(estate, SelfAssessment, _assessments(estate))
    await insert(estate, MeasureValue, _measure_values(estate))
    # as the app keeps them when figures are saved (the same function)
    await summaries.refresh_stale()
    await monitoring(estate)
    await insert(estate, AuditEvent, _history(estate, reviews, review_ids))
    await sent_reminders(estate)
    return estate
