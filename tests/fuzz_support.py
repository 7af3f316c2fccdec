"""Support for test_api_fuzz.py: a scene per role, snapshots of what an organisation
owns, and schemathesis cases sent through the repository's in-loop httpx client.

Schemathesis' own ASGI transport runs the app in a thread with its own event loop, where
a PostgreSQL pool made in the tests' loop cannot be used; so the cases are sent here, by
`send`, in the tests' loop, and checked with `case.validate_response`.
"""

from __future__ import annotations

import itertools
import logging
import re
import traceback
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests

# Imported here, before any test starts its generating thread, although nothing below names
# them: schemathesis imports its transports lazily, on the first `as_transport_kwargs`, and
# pytest rewrites that import (schemathesis is a pytest plugin) with `ast.parse`. CPython 3.11
# keeps one AST recursion depth for all threads, so parsing in the tests' loop while the
# generating thread parses too can fail with "AST constructor recursion depth mismatch"
# (seen once in CI). Loaded up front, nothing is parsed in the loop mid-run.
import schemathesis.transport.asgi  # noqa: F401
import schemathesis.transport.requests  # noqa: F401
import schemathesis.transport.wsgi  # noqa: F401
from conftest import World, api_token, viewer_of

from improve.accounts.tables import (
    ApiToken,
    Organisation,
    OrgKind,
    Role,
    User,
)
from improve.assessments import domain as assessments
from improve.assessments.tables import SelfAssessment, StatementScore
from improve.cases import domain as cases
from improve.cases.domain import FINDING_STATUSES, SEVERITIES, SOURCES
from improve.cases.stages import Stage
from improve.cases.tables import AuditEvent, Case, Finding
from improve.evidence import domain as evidence
from improve.evidence.tables import Evidence
from improve.framework import KEY_QUESTIONS
from improve.measures import catalog
from improve.measures import domain as measures
from improve.measures.tables import (
    MeasureDefinition,
    MeasureSummary,
    MeasureUpload,
    MeasureValue,
)
from improve.monitoring import domain as monitoring
from improve.monitoring.tables import MonitoringLevel, MonitoringStatus, MonitoringVisit
from improve.plans import domain as plans
from improve.plans import playbooks
from improve.plans.domain import ACTION_STATUSES
from improve.plans.tables import Action, ActionFinding, ActionNote, OrgPlaybook, Plan
from improve.reminders.tables import Notification
from improve.reviews import domain as reviews
from improve.reviews.domain import AUDIENCES, CONFIDENCE, RAG
from improve.reviews.tables import Review
from improve.services.tables import Commissioning, Enforcement, Rating, Service

BASE_URL = "http://testserver.local"


@dataclass
class Side:
    """One provider's home with a case holding a row of every kind."""

    service: int
    case: int
    finding: int
    action: int
    evidence: int
    review: int
    assessment: int
    location: str  # the home's CQC location id


@dataclass
class Scene:
    """Provider A (quality lead, manager of home A), provider B (home B), council C
    (commissions home A; the commissioner), council D (commissions home B), an admin."""

    people: dict[str, dict]
    tokens: dict[str, str]
    orgs: dict[str, int]
    users: dict[str, int]
    levels: dict[str, list[int]]
    a: Side
    b: Side
    extra: dict[str, Any] = field(default_factory=dict)


_locations = itertools.count(1)


async def _side(world: World, admin, provider, manager, commissioner, level: int) -> Side:
    council = {"id": commissioner["organisation"]}
    home = await world.service(provider, manager, (council,))
    location = f"1-{9_000_000_000 + next(_locations)}"
    await Service.update({Service.cqc_location_id: location}).where(Service.id == home["id"])
    await cases.record_rating(
        admin, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(admin, home["id"])
    finding = await cases.add_finding(
        admin,
        case["id"],
        {"regulation": "12", "key_question": "safe", "description": "Unsafe medicines"},
    )
    added = await plans.commit(
        admin,
        case["id"],
        [],
        [
            {
                "title": "Fuzz action",
                "theme": "staffing",
                "due_on": "2026-12-01",
                "finding_ids": [finding["id"]],
            }
        ],
    )
    await evidence.add(admin, action_id=added[0]["id"], text="Audit notes")
    proof = await evidence.add(
        admin, finding_id=finding["id"], file_name="proof.pdf", content=b"%PDF-1.4 fuzz"
    )
    review = await reviews.record(
        admin,
        case["id"],
        {
            "audience": "commissioner",
            "held_on": "2026-05-01",
            "attendees": "Fuzz",
            "overall_rag": "amber",
            "confidence": "medium",
        },
    )
    assessment = await assessments.record(
        admin, home["id"], {"assessed_on": "2026-05-02", "score.safe.medicines": "2"}
    )
    await measures.record(viewer_of(manager), home["id"], "falls", "2026-03", "4")
    await monitoring.set_level(viewer_of(commissioner), home["id"], {"level": level})
    return Side(
        service=home["id"],
        case=case["id"],
        finding=finding["id"],
        action=added[0]["id"],
        evidence=proof["id"],
        review=review["id"],
        assessment=assessment["id"],
        location=location,
    )


async def _levels(commissioner: dict) -> list[int]:
    await monitoring.add_default_levels(viewer_of(commissioner))
    return [r["id"] for r in await monitoring.levels_of(commissioner["organisation"])]


async def build_scene() -> Scene:
    world = World()
    provider_a = await world.org(OrgKind.PROVIDER, "Provider A")
    provider_b = await world.org(OrgKind.PROVIDER, "Provider B")
    council_c = await world.org(OrgKind.COMMISSIONER, "Council C")
    council_d = await world.org(OrgKind.COMMISSIONER, "Council D")
    people = {
        "admin": await world.admin(),
        "quality_lead": await world.user(provider_a, Role.QUALITY_LEAD),
        "registered_manager": await world.user(provider_a, Role.REGISTERED_MANAGER),
        "commissioner": await world.user(council_c, Role.COMMISSIONER),
    }
    manager_b = await world.user(provider_b, Role.REGISTERED_MANAGER)
    lead_b = await world.user(provider_b, Role.QUALITY_LEAD)
    commissioner_d = await world.user(council_d, Role.COMMISSIONER)
    admin = viewer_of(people["admin"])
    commissioner = people["commissioner"]
    levels = {"c": await _levels(commissioner), "d": await _levels(commissioner_d)}
    manager_a = people["registered_manager"]
    a = await _side(world, admin, provider_a, manager_a, commissioner, levels["c"][1])
    b = await _side(world, admin, provider_b, manager_b, commissioner_d, levels["d"][2])
    return Scene(
        people=people,
        tokens={role: await api_token(user) for role, user in people.items()},
        orgs={
            "a": provider_a["id"],
            "b": provider_b["id"],
            "c": council_c["id"],
            "d": council_d["id"],
        },
        users={
            "manager_a": people["registered_manager"]["id"],
            "lead_a": people["quality_lead"]["id"],
            "manager_b": manager_b["id"],
            "lead_b": lead_b["id"],
            "commissioner": people["commissioner"]["id"],
        },
        levels=levels,
        a=a,
        b=b,
    )


# --- what the fuzzer may put in a request -------------------------------------------------

# path parameters: the names the API uses, and the scene's row of that kind
PATH_IDS = {
    "service_id": "service",
    "case_id": "case",
    "finding_id": "finding",
    "action_id": "action",
    "evidence_id": "evidence",
    "review_id": "review",
}
NAMED_IDS = {"framework_id": ["saf"], "playbook_id": ["leadership", "medicines"]}


def path_choices(scene: Scene, name: str) -> list[Any]:
    """Real values for a path parameter: the caller's side (home A, twice as likely: it
    is where the code behind the scope check runs) and the other side (B)."""
    if name in PATH_IDS:
        kind = PATH_IDS[name]
        return [getattr(scene.a, kind), getattr(scene.a, kind), getattr(scene.b, kind)]
    return list(NAMED_IDS.get(name, []))


def _record(location: str, name: str = "Fuzzed home") -> dict[str, Any]:
    return {"locationId": location, "name": name, "providerId": "1-111111111"}


def _valid_values() -> dict[str, list[Any]]:
    """Values the domain accepts for body fields the schema leaves as free strings, so
    positive cases get past validation into the code behind it."""
    templates = [t.id for book in playbooks.standard().values() for t in book.actions]
    dates = ["2026-06-01", "2026-12-31", "2025-01-15"]
    return {
        **dict.fromkeys(
            (
                "due_on",
                "held_on",
                "published_on",
                "assessed_on",
                "expected_reinspection_on",
                "action_plan_due_on",
                "review_on",
                "compliance_due_on",
            ),
            dates,
        ),
        "month": ["2026-01", "2026-02-01"],
        "value": [3, 12.5],
        "measure": list(catalog.KEYS[:3]),
        "scores": [{"safe.medicines": 2}, {"safe.medicines": 4, "well_led.governance": 1}],
        "regulation": ["12", "17"],
        "key_question": list(KEY_QUESTIONS),
        "severity": list(SEVERITIES),
        "source": list(SOURCES),
        "stage": [str(stage) for stage in Stage],
        "status": [*ACTION_STATUSES, *FINDING_STATUSES],
        "theme": list(playbooks.THEMES),
        "template_id": templates[:3],
        "audience": list(AUDIENCES),
        "overall_rag": list(RAG),
        "confidence": list(CONFIDENCE),
        "overall": ["Inadequate", "Good", "Requires improvement"],
        "kind": ["provider", "commissioner", "warning_notice"],
        "role": [str(role) for role in Role],
    }


def body_choices(scene: Scene, key: str) -> list[Any]:
    """Real values for a body field: ids from both sides of the scene, or values the
    domain accepts."""
    orgs, users = scene.orgs, scene.users
    ids = {
        "provider": [orgs["a"], orgs["b"]],
        "provider_id": [orgs["a"], orgs["b"]],
        "organisation": [orgs["a"], orgs["b"], orgs["c"]],
        "manager": [users["manager_a"], users["manager_b"]],
        "owner": [users["manager_a"], users["lead_a"], users["manager_b"]],
        "commissioners": [[orgs["c"]], [orgs["d"]]],
        "action_ids": [[scene.a.action], [scene.b.action], [scene.a.action, scene.b.action]],
        "finding_ids": [[scene.a.finding], [scene.b.finding]],
        "level": [*scene.levels["c"][:2], *scene.levels["d"][:2]],
        "records": [[_record(scene.a.location)], [_record(scene.b.location)]],
    }
    return ids.get(key) or VALID.get(key, [])


VALID = _valid_values()
VERSIONED = {"case_id": Case, "finding_id": Finding, "action_id": Action}


async def current_version(path_parameters: dict[str, Any]) -> int | None:
    """The version a PATCH (or stage move) must send, so some writes get past the check."""
    for name, table in VERSIONED.items():
        value = path_parameters.get(name)
        # (ids past int32 are the app's bug to meet, not this look-up's)
        if isinstance(value, int) and 0 < value < 2**31:
            row = await table.select(table.version).where(table.id == value).first()
            return row["version"] if row else None
    return None


async def send(client: httpx.AsyncClient, case, token: str) -> httpx.Response:
    """Send the case as schemathesis' requests transport would, through `client`."""
    kwargs = case.as_transport_kwargs(
        base_url=BASE_URL, headers={"Authorization": f"Bearer {token}"}
    )
    prepared = requests.Request(
        method=kwargs["method"],
        url=kwargs["url"],
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        data=kwargs.get("data"),
        files=kwargs.get("files"),
        cookies=kwargs.get("cookies"),
    ).prepare()
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "content-length"}
    return await client.request(
        prepared.method or "GET", prepared.url or "", headers=headers, content=prepared.body
    )


# --- what an organisation owns -------------------------------------------------------------


async def _rows(table, where) -> list[dict[str, Any]]:
    return await table.select().where(where).order_by(table.id)


def _ids(rows: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in rows] or [-1]


async def owned(org_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every row that belongs to the organisations: themselves, their people, their
    services and all that hangs off them, and (commissioners) their monitoring."""
    snap: dict[str, list[dict[str, Any]]] = {}
    snap["organisations"] = await _rows(Organisation, Organisation.id.is_in(org_ids))
    snap["users"] = await _rows(User, User.organisation.is_in(org_ids))
    uids = _ids(snap["users"])
    snap["api_tokens"] = await _rows(ApiToken, ApiToken.user.is_in(uids))
    snap["notifications"] = await _rows(Notification, Notification.user.is_in(uids))
    snap["services"] = await _rows(Service, Service.provider.is_in(org_ids))
    sids = _ids(snap["services"])
    for name, table in (
        ("ratings", Rating),
        ("enforcement", Enforcement),
        ("commissioning", Commissioning),
        ("measure_values", MeasureValue),
        ("measure_summaries", MeasureSummary),
        ("audit_events", AuditEvent),
        ("cases", Case),
        ("self_assessments", SelfAssessment),
    ):
        snap[name] = await _rows(table, table.service.is_in(sids))
    cids = _ids(snap["cases"])
    for name, table in (
        ("findings", Finding),
        ("evidence", Evidence),
        ("reviews", Review),
        ("plans", Plan),
    ):
        snap[name] = await _rows(table, table.case.is_in(cids))
    snap["actions"] = await _rows(Action, Action.plan.is_in(_ids(snap["plans"])))
    aids = _ids(snap["actions"])
    snap["action_findings"] = await _rows(ActionFinding, ActionFinding.action.is_in(aids))
    snap["action_notes"] = await _rows(ActionNote, ActionNote.action.is_in(aids))
    snap["statement_scores"] = await _rows(
        StatementScore, StatementScore.assessment.is_in(_ids(snap["self_assessments"]))
    )
    for name, table in (
        ("measure_definitions", MeasureDefinition),
        ("measure_uploads", MeasureUpload),
        ("org_playbooks", OrgPlaybook),
    ):
        snap[name] = await _rows(table, table.organisation.is_in(org_ids))
    snap["monitoring_levels"] = await _rows(
        MonitoringLevel, MonitoringLevel.commissioner.is_in(org_ids)
    )
    for name, table in (("monitoring_status", MonitoringStatus), ("visits", MonitoringVisit)):
        snap[name] = await _rows(
            table, table.commissioner.is_in(org_ids) | table.service.is_in(sids)
        )
    return snap


def differences(before: dict, after: dict) -> list[str]:
    """Readable differences between two snapshots made by `owned`."""
    found = []
    for name, rows in before.items():
        if rows == after[name]:
            continue
        old = {r["id"]: r for r in rows}
        new = {r["id"]: r for r in after[name]}
        for rid in sorted(old.keys() | new.keys()):
            if old.get(rid) != new.get(rid):
                found.append(f"{name} #{rid}: {old.get(rid)} -> {new.get(rid)}")
    return found


class ServerErrors(logging.Handler):
    """Keeps the app's logged tracebacks (improve.errors logs each 500 with the request
    id it answers with), so a failure report can show where a 500 came from."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def traceback_for(self, body: str) -> str:
        """The project's frames of the traceback, and the error, for the 500 whose body
        (which names the request id) is given."""
        match = re.search(r'"request_id":\s*"([^"]+)"', body)
        if not match:
            return ""
        request_id = match.group(1)
        for record in self.records:
            if request_id in record.getMessage() and record.exc_info:
                _, error, tb = record.exc_info
                frames = [
                    f"  improve/{frame.filename.rpartition('/improve/')[2]}:{frame.lineno} "
                    f"{frame.name}: {frame.line}"
                    for frame in traceback.extract_tb(tb)
                    if "/improve/" in frame.filename and "site-packages" not in frame.filename
                ]
                return "\n".join([*frames, f"  {type(error).__name__}: {error}"])
        return ""
