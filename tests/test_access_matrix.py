"""The access matrix: every route, every role, a service in scope and one out of scope.

Out of scope answers 404 (existence is not revealed); in scope but read-only answers
403; anonymous pages redirect to the login form and the anonymous API answers 401.
Adding a route without listing it here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import api_token, csrf_token, http_client, log_in, viewer_of

from improve import clock
from improve.accounts import resets, tokens
from improve.accounts.tables import OrgKind, Role, User
from improve.cases import domain as cases
from improve.reminders import calendar, digests

PUBLIC = "public"  # anyone, logged in or not
USER = "user"  # any logged-in person
OWN = "own"  # a thing of the viewer's own (in scope) or of someone else's (out of scope)
VIEW = "service:view"  # the service in scope: everyone may read it
EDIT = "service:edit"  # the service in scope: commissioners read only (403)
ADMIN = "admin"  # administrators only (403 for everyone else)
QUALITY = "quality"  # provider quality leads only (403 for others)
IMPORT = "import"  # bulk CQC import: administrators, quality leads (403 for others)
PROVIDER = "provider"  # provider-side work not tied to one service (403 for commissioners)
COMMISSIONER = "commissioner"  # commissioners' own set-up (403 for everyone else)
MONITOR = "service:monitor"  # the service in scope: commissioners only (403 for providers)
PORTFOLIO = "portfolio"  # commissioners, quality leads and administrators (403 for managers)

FORM = {"__form__": {"text": "matrix"}}  # a multipart body for the API
ROLES = ["admin", "quality_lead", "registered_manager", "commissioner", "anonymous"]


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    rule: str
    body: Any = None  # form fields (pages) or JSON (API); {placeholders} filled in


MATRIX = [
    Entry("GET", "/healthz", PUBLIC),
    Entry("GET", "/readyz", PUBLIC),
    Entry("GET", "/login", PUBLIC),
    Entry("POST", "/login", PUBLIC, {"email": "nobody@example.org", "password": "wrong"}),
    Entry("POST", "/logout", PUBLIC),
    Entry("GET", "/password/forgot", PUBLIC),
    Entry("POST", "/password/forgot", PUBLIC, {"email": "nobody@example.org"}),
    Entry("GET", "/password/reset/{token:str}", PUBLIC),
    Entry("POST", "/password/reset/{token:str}", PUBLIC, {"new_password": "x"}),
    Entry("GET", "/static/{file_path:path}", PUBLIC),
    Entry("GET", "/schema", PUBLIC),
    Entry("GET", "/schema/openapi.json", PUBLIC),
    Entry("GET", "/schema/{path:str}", PUBLIC),
    Entry("GET", "/", USER),
    Entry("GET", "/profile", USER),
    Entry(
        "POST",
        "/profile/password",
        USER,
        {"current_password": "wrong", "new_password": "x", "confirm_password": "y"},
    ),
    Entry("POST", "/profile/tokens", USER, {"name": "matrix"}),
    Entry("POST", "/profile/tokens/{token_id:int}/revoke", OWN),
    Entry("GET", "/services/{service_id:int}", VIEW),
    Entry("GET", "/services/{service_id:int}/edit", EDIT),
    Entry("POST", "/services/{service_id:int}/edit", EDIT, {"local_authority": "Devon"}),
    Entry("GET", "/services/{service_id:int}/ratings/new", EDIT),
    Entry("POST", "/services/{service_id:int}/ratings/new", EDIT, {"published_on": "bad"}),
    Entry("POST", "/services/{service_id:int}/import", EDIT),
    Entry("POST", "/services/{service_id:int}/cases", EDIT),
    Entry("GET", "/cases/{case_id:int}", VIEW),
    Entry("POST", "/cases/{case_id:int}/stage", EDIT, {"stage": "nowhere", "version": "1"}),
    Entry("POST", "/cases/{case_id:int}/dates", EDIT, {"version": "0"}),
    Entry("GET", "/cases/{case_id:int}/findings/new", EDIT),
    Entry("POST", "/cases/{case_id:int}/findings/new", EDIT, {"regulation": "99"}),
    Entry("GET", "/findings/{finding_id:int}/edit", EDIT),
    Entry("POST", "/findings/{finding_id:int}/edit", EDIT, {"version": "0"}),
    Entry("GET", "/cases/{case_id:int}/activity", VIEW),
    Entry("GET", "/cases/{case_id:int}/activity.csv", VIEW),
    Entry("GET", "/cases/{case_id:int}/casefile.zip", VIEW),
    Entry("GET", "/cases/{case_id:int}/plan", VIEW),
    Entry("GET", "/cases/{case_id:int}/plan/build", EDIT),
    Entry("POST", "/cases/{case_id:int}/plan/build", EDIT),
    Entry("POST", "/cases/{case_id:int}/plan/bulk", EDIT),
    Entry("GET", "/actions/{action_id:int}", VIEW),
    Entry("POST", "/actions/{action_id:int}", EDIT, {"version": "0"}),
    Entry("POST", "/actions/{action_id:int}/evidence", EDIT, {"text": ""}),
    Entry("POST", "/findings/{finding_id:int}/evidence", EDIT, {"text": ""}),
    Entry("GET", "/evidence/{evidence_id:int}/download", VIEW),
    Entry("POST", "/evidence/{evidence_id:int}/withdraw", EDIT, {"reason": ""}),
    Entry("GET", "/my/actions", USER),
    Entry("GET", "/cases/{case_id:int}/plan/print", VIEW),
    Entry("GET", "/cases/{case_id:int}/plan.csv", VIEW),
    Entry("GET", "/cases/{case_id:int}/reviews/new", VIEW),
    Entry("POST", "/cases/{case_id:int}/reviews/new", VIEW, {"audience": "commissioner"}),
    Entry("GET", "/reviews/{review_id:int}", VIEW),
    Entry("POST", "/cases/{case_id:int}/review-cadence", EDIT, {"internal_review_days": "x"}),
    Entry("GET", "/unsubscribe/{token:str}", PUBLIC),
    Entry("POST", "/unsubscribe/{token:str}", PUBLIC),
    Entry("GET", "/calendar/{feed:str}", PUBLIC),  # the address is its own key
    Entry("POST", "/profile/digests", USER, {"digests": "on"}),
    Entry("GET", "/notifications", USER),
    Entry("POST", "/notifications/read", USER),
    Entry("GET", "/playbooks", USER),
    Entry("POST", "/playbooks", QUALITY, {"x": "1"}),
    Entry("GET", "/playbooks/{playbook_id:str}", USER),
    Entry("GET", "/services/{service_id:int}/measures", VIEW),
    Entry(
        "POST",
        "/services/{service_id:int}/measures",
        EDIT,
        {"measure": "falls", "month": "1999-13", "value": "x"},
    ),
    Entry("GET", "/measures", USER),
    Entry("GET", "/measures/example.csv", USER),
    Entry("POST", "/measures/upload", PROVIDER),
    Entry("POST", "/measures/definitions", QUALITY, {"key": "BAD KEY"}),
    Entry("GET", "/services/{service_id:int}/assessments", VIEW),
    Entry("GET", "/services/{service_id:int}/assessments/new", EDIT),
    Entry("POST", "/services/{service_id:int}/assessments/new", EDIT, {"assessed_on": "x"}),
    Entry("GET", "/assessments/{assessment_id:int}", VIEW),
    Entry("GET", "/services/{service_id:int}/monitoring", MONITOR),
    Entry("POST", "/services/{service_id:int}/monitoring/level", MONITOR, {"level": "x"}),
    Entry("POST", "/services/{service_id:int}/monitoring/visits", MONITOR, {"outcome": "x"}),
    Entry("GET", "/monitoring/levels", COMMISSIONER),
    Entry("POST", "/monitoring/levels", COMMISSIONER, {"name": ""}),
    Entry("POST", "/monitoring/levels/defaults", COMMISSIONER),
    Entry("GET", "/services/{service_id:int}/briefing", VIEW),
    Entry("GET", "/portfolio", PORTFOLIO),
    Entry("GET", "/portfolio.csv", PORTFOLIO),
    Entry("GET", "/admin", ADMIN),
    Entry("GET", "/admin/organisations", ADMIN),
    Entry("POST", "/admin/organisations", ADMIN, {"name": "", "kind": "provider"}),
    Entry("GET", "/admin/organisations/{org_id:int}", ADMIN),
    Entry("POST", "/admin/organisations/{org_id:int}", ADMIN, {"name": "Renamed provider"}),
    Entry("GET", "/admin/users", ADMIN),
    Entry("POST", "/admin/users", ADMIN, {"email": "bad"}),
    Entry("GET", "/admin/users/{user_id:int}", ADMIN),
    Entry(
        "POST",
        "/admin/users/{user_id:int}",
        ADMIN,
        {"name": "Victim", "role": "registered_manager", "active": "on"},
    ),
    Entry("POST", "/admin/users/{user_id:int}/password", ADMIN, {"password": "short"}),
    Entry("GET", "/admin/services", ADMIN),
    Entry("POST", "/admin/services", ADMIN, {"name": ""}),
    Entry("GET", "/admin/services/{service_id:int}", ADMIN),
    Entry("POST", "/admin/services/{service_id:int}", ADMIN, {"name": ""}),
    Entry("GET", "/admin/outbox", ADMIN),
    Entry("POST", "/admin/outbox/{message_id:int}/retry", ADMIN),
    Entry("GET", "/admin/imports", ADMIN),
    Entry("POST", "/admin/imports", ADMIN, {"kind": "directory"}),
    Entry("GET", "/api/v1/me", USER),
    Entry("GET", "/api/v1/services", USER),
    Entry("GET", "/api/v1/services/{service_id:int}", VIEW),
    Entry("PATCH", "/api/v1/services/{service_id:int}", EDIT, {"local_authority": "Devon"}),
    Entry("POST", "/api/v1/services", ADMIN, {"name": "Matrix home", "provider": "{provider_id}"}),
    Entry(
        "PUT",
        "/api/v1/services/{service_id:int}/administration",
        ADMIN,
        {
            "provider": "{provider_id}",
            "manager": "{manager_id}",
            "commissioners": ["{commissioner_org_id}"],
        },
    ),
    Entry("GET", "/api/v1/services/{service_id:int}/ratings", VIEW),
    Entry(
        "POST",
        "/api/v1/services/{service_id:int}/ratings",
        EDIT,
        {"published_on": "2026-01-01", "overall": "Superb"},
    ),
    Entry("POST", "/api/v1/services/{service_id:int}/cqc-record", EDIT, {"name": "x"}),
    Entry("POST", "/api/v1/imports/cqc-locations", IMPORT, {"records": [{"name": "x"}]}),
    Entry("GET", "/api/v1/cases", USER),
    Entry("POST", "/api/v1/services/{service_id:int}/cases", EDIT),
    Entry("GET", "/api/v1/cases/{case_id:int}", VIEW),
    Entry("PATCH", "/api/v1/cases/{case_id:int}", EDIT, {"version": 0}),
    Entry("POST", "/api/v1/cases/{case_id:int}/stage", EDIT, {"stage": "nowhere", "version": 0}),
    Entry("GET", "/api/v1/cases/{case_id:int}/findings", VIEW),
    Entry(
        "POST",
        "/api/v1/cases/{case_id:int}/findings",
        EDIT,
        {"regulation": "99", "key_question": "safe", "description": "x"},
    ),
    Entry("PATCH", "/api/v1/findings/{finding_id:int}", EDIT, {"version": 0}),
    Entry("GET", "/api/v1/cases/{case_id:int}/history", VIEW),
    Entry("GET", "/api/v1/cases/{case_id:int}/casefile", VIEW),
    Entry("GET", "/api/v1/cases/{case_id:int}/plan", VIEW),
    Entry("GET", "/api/v1/cases/{case_id:int}/plan/proposals", EDIT),
    Entry("POST", "/api/v1/cases/{case_id:int}/plan/actions", EDIT, {"actions": []}),
    Entry("GET", "/api/v1/actions/{action_id:int}", VIEW),
    Entry("PATCH", "/api/v1/actions/{action_id:int}", EDIT, {"version": 0}),
    Entry("POST", "/api/v1/cases/{case_id:int}/plan/bulk", EDIT, {"action_ids": []}),
    Entry("POST", "/api/v1/actions/{action_id:int}/evidence", EDIT, FORM),
    Entry("GET", "/api/v1/actions/{action_id:int}/evidence", VIEW),
    Entry("POST", "/api/v1/findings/{finding_id:int}/evidence", EDIT, FORM),
    Entry("GET", "/api/v1/evidence/{evidence_id:int}/download", VIEW),
    Entry("POST", "/api/v1/evidence/{evidence_id:int}/withdraw", EDIT, {"reason": ""}),
    Entry("GET", "/api/v1/cases/{case_id:int}/plan/export", VIEW),
    Entry("GET", "/api/v1/cases/{case_id:int}/reviews", VIEW),
    Entry(
        "POST",
        "/api/v1/cases/{case_id:int}/reviews",
        VIEW,
        {
            "audience": "commissioner",
            "held_on": "2999-01-01",
            "attendees": "x",
            "overall_rag": "green",
            "confidence": "high",
        },
    ),
    Entry("GET", "/api/v1/reviews/{review_id:int}", VIEW),
    Entry("GET", "/api/v1/me/notifications", USER),
    Entry("GET", "/api/v1/me/actions", USER),
    Entry("GET", "/api/v1/playbooks", USER),
    Entry("GET", "/api/v1/playbooks/{playbook_id:str}", USER),
    Entry("GET", "/api/v1/frameworks", USER),
    Entry("GET", "/api/v1/frameworks/{framework_id:str}", USER),
    Entry("GET", "/api/v1/services/{service_id:int}/measures", VIEW),
    Entry(
        "POST",
        "/api/v1/services/{service_id:int}/measures",
        EDIT,
        {"measure": "falls", "month": "2026-01", "value": -1},
    ),
    Entry(
        "POST",
        "/api/v1/services/{service_id:int}/assessments",
        EDIT,
        {"assessed_on": "2999-01-01", "scores": {"safe.medicines": 2}},
    ),
    Entry("GET", "/api/v1/services/{service_id:int}/assessments/latest", VIEW),
    Entry("PUT", "/api/v1/services/{service_id:int}/monitoring-level", MONITOR, {"level": 0}),
    Entry("GET", "/api/v1/portfolio", "portfolio:commissioner"),
    Entry("GET", "/api/v1/organisations", ADMIN),
    Entry("POST", "/api/v1/organisations", ADMIN, {"name": "Matrix org", "kind": "provider"}),
    Entry("GET", "/api/v1/users", ADMIN),
    Entry(
        "POST",
        "/api/v1/users",
        ADMIN,
        {
            "email": "bad",
            "name": "x",
            "organisation": "{provider_id}",
            "role": "commissioner",
            "password": "x",
        },
    ),
]


def app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                found.add((method, route.path))
    return found


def test_every_route_is_in_the_matrix(app):
    listed = {(e.method, e.path) for e in MATRIX}
    missing = app_routes(app) - listed
    assert missing == set(), f"add these routes to the access matrix: {sorted(missing)}"
    assert listed - app_routes(app) == set(), "the matrix lists routes that no longer exist"


@pytest.fixture
async def scene(world):
    """Provider A (quality lead, manager of home A), provider B (home B), commissioner C
    linked to home A only, and an administrator."""
    provider_a = await world.org(OrgKind.PROVIDER, "Provider A")
    provider_b = await world.org(OrgKind.PROVIDER, "Provider B")
    council = await world.org(OrgKind.COMMISSIONER, "Council C")
    people = {
        "admin": await world.admin(),
        "quality_lead": await world.user(provider_a, Role.QUALITY_LEAD),
        "registered_manager": await world.user(provider_a, Role.REGISTERED_MANAGER),
        "commissioner": await world.user(council, Role.COMMISSIONER),
    }
    home_a = await world.service(provider_a, people["registered_manager"], (council,))
    home_b = await world.service(provider_b, await world.user(provider_b, Role.REGISTERED_MANAGER))
    victim = await world.user(provider_a, Role.REGISTERED_MANAGER, name="Victim")
    admin = viewer_of(people["admin"])
    cases_ = {}
    for key, home in (("a", home_a), ("b", home_b)):
        await cases.record_rating(
            admin, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(admin, home["id"])
        finding = await cases.add_finding(
            admin,
            case["id"],
            {"regulation": "12", "key_question": "safe", "description": "Unsafe medicines"},
        )
        from improve.plans import domain as plans

        added = await plans.commit(
            admin,
            case["id"],
            [],
            [{"title": "Matrix action", "theme": "staffing", "due_on": "2026-12-01"}],
        )
        from improve.evidence import domain as evidence

        proof = await evidence.add(
            admin, finding_id=finding["id"], file_name="proof.pdf", content=b"%PDF-1.4 matrix"
        )
        from improve.reviews import domain as reviews

        review = await reviews.record(
            admin,
            case["id"],
            {
                "audience": "commissioner",
                "held_on": "2026-05-01",
                "attendees": "Matrix",
                "overall_rag": "amber",
                "confidence": "medium",
            },
        )
        from improve.assessments import domain as assessments

        assessment = await assessments.record(
            admin, home["id"], {"assessed_on": "2026-05-02", "score.safe.medicines": "2"}
        )
        cases_[key] = (case, finding, added[0], proof, review, assessment)
    return {
        "people": people,
        "home_a": home_a,
        "home_b": home_b,
        "provider_a": provider_a,
        "council": council,
        "victim": victim,
        "cases": cases_,
        "message_id": await _message(),
    }


async def _message() -> int:
    """An outbox row for the admin's outbox routes."""
    from improve import clock
    from improve.reminders.tables import Outbox

    rows = await Outbox.insert(
        Outbox(
            kind="digest",
            dedupe_key=f"matrix:{clock.now().timestamp()}",
            email="x@example.org",
            subject="Matrix",
            text_body="x",
            html_body="x",
            status="failed",
            created_at=clock.now(),
        )
    ).returning(Outbox.id)
    return rows[0]["id"]


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def _token_for(entry: Entry, user_id: int) -> str:
    """A genuine token of the kind the route takes (a malformed one answers 404)."""
    if entry.path.startswith("/password/reset/"):
        row = await User.select(User.id, User.password_hash).where(User.id == user_id).first()
        return resets.make_token(row, clock.now())
    return digests.unsubscribe_token(user_id)


async def _path_ids(entry: Entry, role: str, in_scope: bool, scene: dict) -> dict[str, Any]:
    me = scene["people"].get(role)
    ids: dict[str, Any] = {
        "service_id": (scene["home_a"] if in_scope else scene["home_b"])["id"],
        "org_id": scene["provider_a"]["id"],
        "user_id": scene["victim"]["id"],
        "provider_id": scene["provider_a"]["id"],
        "manager_id": scene["people"]["registered_manager"]["id"],
        "commissioner_org_id": scene["council"]["id"],
        "file_path": "style.css",
        "case_id": scene["cases"]["a" if in_scope else "b"][0]["id"],
        "finding_id": scene["cases"]["a" if in_scope else "b"][1]["id"],
        "framework_id": "saf",
        "playbook_id": "leadership",
        "message_id": scene["message_id"],
        "token": await _token_for(entry, scene["victim"]["id"]),
        "feed": await calendar.feed_token_for(scene["victim"]["id"]) + ".ics",
        "action_id": scene["cases"]["a" if in_scope else "b"][2]["id"],
        "evidence_id": scene["cases"]["a" if in_scope else "b"][3]["id"],
        "review_id": scene["cases"]["a" if in_scope else "b"][4]["id"],
        "assessment_id": scene["cases"]["a" if in_scope else "b"][5]["id"],
        "path": "openapi.json",
    }
    if role == "admin" and not in_scope:
        # nothing is out of an administrator's scope: use ids that do not exist
        ids.update(
            service_id=999_999,
            org_id=999_999,
            user_id=999_999,
            case_id=999_999,
            finding_id=999_999,
            action_id=999_999,
            evidence_id=999_999,
            review_id=999_999,
            assessment_id=999_999,
            message_id=999_999,
        )
    owner = me if in_scope and me else scene["victim"]
    token, _ = await tokens.create(viewer_of(owner), "to revoke")
    ids["token_id"] = token["id"]
    return ids


def _concrete(path: str, ids: dict[str, Any]) -> str:
    for name, value in ids.items():
        for kind in ("int", "path", "str"):
            path = path.replace("{" + f"{name}:{kind}" + "}", str(value))
    return path


def expected(entry: Entry, role: str, in_scope: bool) -> str:
    """'ok' (any answer but 401/403/404 and never 5xx), or the exact refusal."""
    api = entry.path.startswith("/api/")
    if entry.rule == PUBLIC:
        return "ok"
    if role == "anonymous":
        return "401" if api else "login"
    if entry.rule == USER:
        return "ok"
    if entry.rule == QUALITY:
        return "ok" if role == "quality_lead" else "403"
    if entry.rule == IMPORT:
        return "ok" if role in ("admin", "quality_lead") else "403"
    if entry.rule == ADMIN:
        if role != "admin":
            return "403"
        return "ok" if in_scope or "{" not in entry.path else "404"
    if entry.rule == PROVIDER:
        return "403" if role == "commissioner" else "ok"
    if entry.rule == COMMISSIONER:
        return "ok" if role == "commissioner" else "403"
    if entry.rule == "portfolio:commissioner":
        return "ok" if role in ("commissioner", "admin") else "403"
    if entry.rule == PORTFOLIO:
        return "403" if role == "registered_manager" else "ok"
    if entry.rule == MONITOR:
        if not in_scope:
            return "404"
        return "ok" if role == "commissioner" else "403"
    if entry.rule == OWN:
        return "ok" if in_scope else "404"
    if not in_scope:
        return "404"
    if entry.rule == EDIT and role == "commissioner":
        return "403"
    return "ok"


async def _request(
    client: httpx.AsyncClient,
    entry: Entry,
    url: str,
    body: Any,
    bearer: str | None,
    csrf: str | None,
):
    headers = {}
    if entry.path.startswith("/api/"):
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        if isinstance(body, dict) and "__form__" in body:
            # multipart, as the endpoint expects (a file-less field is (None, value))
            parts = {k: (None, v) for k, v in body["__form__"].items()}
            return await client.request(entry.method, url, files=parts, headers=headers)
        return await client.request(entry.method, url, json=body, headers=headers)
    data = dict(body or {})
    if entry.method != "GET" and csrf:
        data["_csrf_token"] = csrf
    return await client.request(
        entry.method, url, data=data if entry.method != "GET" else None, follow_redirects=False
    )


async def _client_for(app, user: dict | None):
    client = http_client(app)
    bearer = None
    if user:
        await log_in(client, user)
        bearer = await api_token(user)
    return client, bearer, await csrf_token(client)


# requests that end the session they are sent with get a client of their own
SESSION_ENDING = {("POST", "/logout")}


@pytest.mark.parametrize("role", ROLES)
async def test_matrix(app, scene, role):
    failures = []
    user = scene["people"].get(role)
    shared, bearer, csrf = await _client_for(app, user)
    try:
        for in_scope in (True, False):
            for entry in MATRIX:
                ids = await _path_ids(entry, role, in_scope, scene)
                url = _concrete(entry.path, ids)
                body = _fill(entry.body, ids)
                if (entry.method, entry.path) in SESSION_ENDING:
                    own, own_bearer, own_csrf = await _client_for(app, user)
                    response = await _request(own, entry, url, body, own_bearer, own_csrf)
                    await own.aclose()
                else:
                    response = await _request(shared, entry, url, body, bearer, csrf)
                want = expected(entry, role, in_scope)
                status = response.status_code
                ok = {
                    "ok": status < 500 and status not in (401, 403, 404),
                    "login": status == 303
                    and response.headers["location"].startswith("/login?next="),
                }.get(want, str(status) == want)
                if not ok:
                    scope = "in scope" if in_scope else "out of scope"
                    failures.append(f"{entry.method} {url} ({scope}): wanted {want}, got {status}")
    finally:
        await shared.aclose()
    assert failures == [], "\n".join(failures)
