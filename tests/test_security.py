"""Security checks across the app (issue 8 point 5): CSRF, cookies, login back-off, response
headers, refused uploads, and user text made inert in pages, CSV exports and emails.

Already covered elsewhere, and not repeated here:
- a form POST without a CSRF token is refused (login and API-token forms):
  test_login.py::test_form_post_without_csrf_token_is_refused
- the session cookie is HttpOnly and SameSite=Lax, and Secure behind https:
  test_login.py::test_login_form_starts_a_session_with_safe_cookie_flags and
  test_login.py::test_session_cookie_is_secure_behind_https
- the back-off rule itself (lock after the free attempts, growing, capped, released):
  test_login.py::test_repeated_failures_lock_the_address_then_release_it and
  test_login.py::test_lock_grows_and_is_capped
- security headers on the login page and on the framework's own 404:
  test_errors_and_health.py::test_security_headers_on_pages_and_on_framework_404s
- a Windows program named .pdf refused, the size limit in the domain, javascript: links
  refused, downloads only within scope: test_evidence.py
- formula cells in the activity and plan CSVs (domain level): test_cases.py::
  test_history_exports_as_csv_without_formula_injection, test_plan_builder.py::
  test_summary_my_actions_csv_and_printable_plan
- a user name and a service name escaped on the home page:
  test_errors_and_health.py::test_user_text_is_escaped_in_pages
- one-click unsubscribe needs its signed token instead of CSRF: test_reminders.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import secrets
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from browser_support import html_page_routes, route_of
from conftest import PASSWORD, api_token, csrf_token, http_client, log_in, viewer_of

from improve import clock
from improve.accounts import sessions, tokens
from improve.accounts.tables import OrgKind, Role
from improve.app import create_app
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.evidence import domain as evidence
from improve.evidence.tables import Evidence
from improve.measures import domain as measures
from improve.measures.tables import MeasureUpload
from improve.monitoring import domain as monitoring
from improve.paths import TEMPLATES_DIR
from improve.plans import actions, org_playbooks
from improve.plans import domain as plans
from improve.reminders import mail, outbox
from improve.reminders.rules import Reminder
from improve.reviews import domain as reviews
from improve.services.tables import Service
from improve.settings import get_settings, override, use

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
DATA = Path(__file__).parent / "data"


@pytest.fixture
def restore_settings():
    saved = get_settings()
    yield
    use(saved)


async def _manager_with_action(world) -> dict:
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    home = await world.service(provider, manager)
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me, case["id"], {"regulation": "12", "key_question": "safe", "description": "Gaps"}
    )
    rows = await plans.commit(
        me, case["id"], [], [{"title": "Audit", "theme": "staffing", "due_on": "2026-12-01"}]
    )
    return {
        "manager": manager,
        "me": me,
        "home": home,
        "case": case,
        "finding": finding,
        "action": rows[0],
    }


# --- CSRF ------------------------------------------------------------------------------------


def _page_post_routes(app) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if "POST" in getattr(route, "methods", ())
        and not route.path.startswith(("/api/", "/schema", "/unsubscribe/"))
    )


def _concrete(path: str) -> str:
    return re.sub(r"\{[a-z_]+:(int|str)\}", "999999", path)


async def test_every_page_post_needs_the_csrf_token(app, client, world):
    """Logged in as an administrator, every form POST without a token is refused by the
    CSRF check itself (ids that do not exist would otherwise answer 404)."""
    await log_in(client, await world.admin())
    await csrf_token(client)  # the browser holds the CSRF cookie, the request lacks the token
    routes = _page_post_routes(app)
    assert "/login" in routes and "/actions/{action_id:int}" in routes
    refused = {}
    for path in routes:
        response = await client.post(_concrete(path), data={"x": "1"}, follow_redirects=False)
        if response.status_code != 403 or "CSRF token verification failed" not in response.text:
            refused[path] = response.status_code
    assert refused == {}, "accepted without a CSRF token"


async def test_a_form_token_or_the_htmx_header_is_accepted_and_a_forged_one_is_not(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    me = viewer_of(manager)
    await log_in(client, manager)
    token = await csrf_token(client)

    form = await client.post("/profile/tokens", data={"_csrf_token": token, "name": "form"})
    assert form.status_code == 200 and 'id="new-token"' in form.text
    htmx = await client.post(
        "/profile/tokens",
        data={"name": "htmx"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert htmx.status_code == 200 and 'id="new-token"' in htmx.text

    forged = "0" * len(token)
    for attempt in (
        {"data": {"_csrf_token": forged, "name": "forged"}},
        {"data": {"name": "forged"}, "headers": {"X-CSRFToken": forged}},
    ):
        assert (await client.post("/profile/tokens", **attempt)).status_code == 403

    # a token is bound to its own browser's CSRF cookie: another browser's is refused
    async with http_client(create_app()) as other:
        await log_in(other, manager)
        await csrf_token(other)
        stolen = await other.post("/profile/tokens", data={"_csrf_token": token, "name": "x"})
        assert stolen.status_code == 403
    assert sorted(t["name"] for t in await tokens.list_for(me)) == ["form", "htmx"]


async def test_the_page_after_a_refused_form_still_lets_you_log_out(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await log_in(client, manager)
    await csrf_token(client)
    refused = await client.post("/profile/tokens", data={"name": "no token"})
    assert refused.status_code == 403
    token = re.search(r'name="_csrf_token" value="([^"]*)"', refused.text).group(1)
    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303


async def test_the_csrf_cookie_is_lax_and_secure_behind_https(restore_settings):
    for base, secure in (("http://testserver.local", False), ("https://testserver.local", True)):
        app = create_app(override(base_url=base.replace("testserver.local", "improve.example")))
        async with http_client(app, base) as client:
            page = await client.get("/login")
        cookie = next(
            c for c in page.headers.get_list("set-cookie") if c.startswith("improve_csrf=")
        )
        assert "samesite=lax" in cookie.lower()
        assert ("secure" in cookie.lower().split("; ")) == secure


# --- session cookies ----------------------------------------------------------------------


async def _log_in_with_form(client: httpx.AsyncClient, email: str, password: str):
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password},
        follow_redirects=False,
    )


async def test_login_replaces_the_session_and_logout_clears_the_cookie(client, world):
    """No session fixation: a session planted before login is ended, not promoted."""
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    planted = await sessions.start(manager["id"])
    client.cookies.set(sessions.COOKIE_NAME, planted, domain="testserver.local")
    response = await _log_in_with_form(client, manager["email"], PASSWORD)
    assert response.status_code == 303
    fresh = client.cookies.get(sessions.COOKIE_NAME)
    assert fresh and fresh != planted
    assert await sessions.viewer_for(planted) is None

    token = await csrf_token(client)
    out = await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    cleared = next(
        c for c in out.headers.get_list("set-cookie") if c.startswith("improve_session=")
    )
    assert "Max-Age=0" in cleared and "HttpOnly" in cleared and "SameSite=lax" in cleared
    assert await sessions.viewer_for(fresh) is None


# --- login back-off ---------------------------------------------------------------------------


async def test_repeated_failed_logins_through_the_form_lock_the_address(
    client, world, restore_settings
):
    """IMPROVE_LOGIN_FREE_ATTEMPTS failures lock an address, even for the right password and
    whether or not the address has an account; other addresses are unaffected."""
    override(login_free_attempts=2)
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    colleague = await world.user(provider, Role.REGISTERED_MANAGER)
    unknown = f"nobody-{secrets.token_hex(4)}@example.org"
    start = clock.now()
    with clock.frozen(start):
        for email in (manager["email"], unknown):
            for attempt in range(2):
                # the address is counted however it is typed
                typed = email.upper() if attempt else email
                refused = await _log_in_with_form(client, typed, "wrong password")
                assert refused.status_code == 400
                assert "do not match an active account" in refused.text
        locked = await _log_in_with_form(client, manager["email"], PASSWORD)
        assert locked.status_code == 400 and "Too many failed attempts" in locked.text
        assert sessions.COOKIE_NAME not in locked.headers.get("set-cookie", "")
        also_locked = await _log_in_with_form(client, unknown, PASSWORD)
        assert also_locked.text.count("Too many failed attempts") == 1  # nothing revealed
        other = await _log_in_with_form(client, colleague["email"], PASSWORD)
        assert other.status_code == 303
    with clock.frozen(start + timedelta(minutes=2)):
        client.cookies.clear()
        assert (await _log_in_with_form(client, manager["email"], PASSWORD)).status_code == 303


# --- security headers -------------------------------------------------------------------------


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_safe_headers(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    policy = _directives(response.headers.get("content-security-policy", ""))
    scripts = policy.get("script-src", policy.get("default-src"))
    assert scripts, f"{where}: no script-src"
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(
        scripts
    ), f"{where}: script-src {scripts}"
    assert policy.get("object-src") == ["'none'"], where
    # no framing (clickjacking), by the policy and by the older header
    assert policy.get("frame-ancestors") == ["'none'"], where
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ), where


async def test_security_headers_on_pages_api_files_and_errors(client, world):
    scene = await _manager_with_action(world)
    proof = await evidence.add(
        scene["me"], action_id=scene["action"]["id"], file_name="a.pdf", content=PDF
    )
    bearer = {"Authorization": f"Bearer {await api_token(scene['manager'])}"}
    await log_in(client, scene["manager"])
    token = await csrf_token(client)
    responses = [
        await client.get("/"),
        await client.get(f"/actions/{scene['action']['id']}"),
        await client.get(f"/actions/{scene['action']['id']}", headers={"HX-Request": "true"}),
        await client.get(f"/cases/{scene['case']['id']}/plan.csv"),
        await client.get(f"/evidence/{proof['id']}/download"),
        await client.get("/static/style.css"),
        await client.get("/admin"),  # 403 page
        await client.post("/notifications/read", data={"_csrf_token": token}),  # 303
        await client.post("/profile/tokens", data={"name": "no token"}),  # CSRF 403
        await client.get("/api/v1/me", headers=bearer),
        await client.get(f"/api/v1/cases/{scene['case']['id']}/plan/export", headers=bearer),
        await client.get(f"/api/v1/evidence/{proof['id']}/download", headers=bearer),
        await client.get("/api/v1/me"),  # 401
        await client.get("/api/v1/cases/999999", headers=bearer),  # 404
        await client.get("/api/v1/no-such-thing", headers=bearer),
    ]
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 303, 401, 403, 404], statuses
    for response in responses:
        assert_safe_headers(response)
    # downloads are attachments, never rendered by the browser
    for response in responses[4], responses[11]:
        assert response.headers["content-disposition"].startswith("attachment")


async def test_the_api_reference_keeps_the_strict_policy(client):
    """No page relaxes the policy, the API reference included: it is rendered on the
    server (improve.api.reference), not by a viewer fetched from a CDN."""
    for path in ("/schema", "/schema/openapi.json", "/schema/redoc", "/schemata"):
        assert_safe_headers(await client.get(path))
    assert (await client.get("/schema/redoc")).status_code == 404  # no CDN viewer left behind


# --- uploads -----------------------------------------------------------------------------------


async def _upload_evidence(client, action_id: int, name: str, content: bytes, token: str):
    return await client.post(
        f"/actions/{action_id}/evidence",
        data={"_csrf_token": token, "text": "upload"},
        files={"file": (name, content, "application/pdf")},
        follow_redirects=False,
    )


async def test_evidence_of_a_wrong_type_or_too_large_is_refused_through_the_page(
    client, world, restore_settings, tmp_path
):
    override(upload_dir=str(tmp_path))  # other runs may share the default folder
    scene = await _manager_with_action(world)
    action_id = scene["action"]["id"]
    await log_in(client, scene["manager"])
    token = await csrf_token(client)
    before = await Evidence.count()
    files_before = set(evidence.upload_dir().iterdir())
    disguised = {
        "page.pdf": b"<!doctype html><html><script>alert(1)</script></html>",
        "drawing.pdf": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "setup.pdf": b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
        "archive.docx": b"PK\x03\x04\x14\x00\x00\x00not a real office file",
        "iframe.txt": b"notes\n<iframe src=https://evil.example>",
    }
    for name, content in disguised.items():
        refused = await _upload_evidence(client, action_id, name, content, token)
        assert refused.status_code == 400, name
        assert "not a type we accept" in refused.text, name
    override(upload_max_mb=1)
    big = await _upload_evidence(client, action_id, "big.pdf", PDF + b"0" * 1024 * 1024, token)
    assert big.status_code == 400 and "larger than 1 MB" in big.text
    assert await Evidence.count() == before
    assert set(evidence.upload_dir().iterdir()) == files_before


async def test_evidence_just_under_the_configured_limit_is_accepted(client, world):
    scene = await _manager_with_action(world)
    await log_in(client, scene["manager"])
    token = await csrf_token(client)
    limit = get_settings().upload_max_mb * 1024 * 1024
    content = PDF + b"0" * (limit - len(PDF) - 1024)
    accepted = await _upload_evidence(client, scene["action"]["id"], "big.pdf", content, token)
    assert accepted.status_code == 303


async def test_a_measures_csv_too_large_or_not_utf8_is_refused(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    await world.service(provider)
    await log_in(client, lead)
    token = await csrf_token(client)
    uploads_before = await MeasureUpload.count()
    header = b"service,month,measure,value\n"
    for content, message in (
        (header + b"1,2026-01,falls,1" + b"0" * 5 * 1024 * 1024 + b"\n", "is larger than 5 MB"),
        (header + "1,2026-01,falls,caf\xe9\n".encode("latin-1"), "must be a CSV saved as UTF-8"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xfe", "must be a CSV saved as UTF-8"),
    ):
        refused = await client.post(
            "/measures/upload",
            data={"_csrf_token": token},
            files={"file": ("figures.csv", content, "text/csv")},
        )
        assert refused.status_code == 400 and message in refused.text
    assert await MeasureUpload.count() == uploads_before


async def test_a_cqc_record_too_large_or_not_json_is_refused(client, world):
    scene = await _manager_with_action(world)
    home = scene["home"]["id"]
    await log_in(client, scene["manager"])
    token = await csrf_token(client)
    record = (DATA / "cqc_location_inadequate.json").read_bytes()
    padded = json.dumps({**json.loads(record), "padding": "x" * (5 * 1024 * 1024)}).encode()
    before = await Service.select().where(Service.id == home).first()
    for name, content, message in (
        ("location.json", padded, "is larger than 5 MB"),
        ("location.json", b"<html><script>alert(1)</script></html>", "is not JSON"),
        ("location.json", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xfe", "is not JSON"),
    ):
        refused = await client.post(
            f"/services/{home}/import",
            data={"_csrf_token": token},
            files={"file": (name, content, "application/json")},
        )
        assert refused.status_code == 400 and message in refused.text, name
        assert "<script>alert(1)" not in refused.text
    assert await Service.select().where(Service.id == home).first() == before


# --- user text is inert in pages ------------------------------------------------------------

RAW = ("<script>alert(1)</script>", "<img src=x", "onerror=alert(1)>")


def payload(tag: str) -> str:
    """Text that would run script if a page printed it as HTML (also out of an attribute)."""
    return f"{tag}\"'><script>alert(1)</script><img src=x onerror=alert(1)>"


def escaped(tag: str) -> str:
    return f"{tag}&#34;&#39;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" + (
        "&lt;img src=x onerror=alert(1)&gt;"
    )


PLAYBOOK = """
id: {id}
theme: staffing
title: {title}
version: 1
summary: {summary}
actions:
  - id: staffing.{id}-first
    title: {action}
    steps: [{step}]
    why: {why}
    owner_role: registered_manager
    due_days: 7
    evidence: [Rota]
    regulations: ["18"]
    quality_statements: [safe.safe_staffing]
    answers: {{quality_statements: [safe.safe_staffing]}}
"""


@pytest.fixture
async def hostile(world):
    """One service whose every user-written text field holds HTML and script."""
    provider = await world.org(OrgKind.PROVIDER, payload("xorg"))
    council = await world.org(OrgKind.COMMISSIONER)
    admin = await world.admin()
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name=payload("xuser"))
    lead = await world.user(provider, Role.QUALITY_LEAD)
    commissioner = await world.user(council, Role.COMMISSIONER)
    home = await world.service(provider, manager, (council,), payload("xsvc"))
    me, them = viewer_of(manager), viewer_of(commissioner)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me,
        case["id"],
        {"regulation": "12", "key_question": "safe", "description": payload("xfinding")},
    )
    added = await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": payload("xaction"),
                "theme": "staffing",
                "due_on": "2026-11-01",
                "owner": manager["id"],
                "finding_ids": [finding["id"]],
            }
        ],
    )
    action = await actions.get_action(me, added[0]["id"])
    await actions.update(me, action["id"], {"note": payload("xnote")}, version=action["version"])
    await evidence.add(me, action_id=action["id"], text=payload("xevidence"))
    wrong = await evidence.add(me, action_id=action["id"], text="a note on the wrong action")
    await evidence.withdraw(me, wrong["id"], payload("xwithdrawn"))
    review = await reviews.record(
        me,
        case["id"],
        {
            "audience": "internal",
            "held_on": "2026-11-02",
            "attendees": payload("xattendees"),
            "overall_rag": "amber",
            "confidence": "medium",
            "notes": payload("xrnotes"),
            "decisions": payload("xdecisions"),
        },
    )
    assessment = await assessments.record(
        me,
        home["id"],
        {
            "assessed_on": "2026-11-03",
            "score.safe.medicines": "2",
            "evidence.safe.medicines": payload("xassess"),
        },
    )
    await measures.define(
        viewer_of(lead),
        {"key": "xss_measure", "name": payload("xmeasure"), "better": "up", "unit": "n"},
    )
    for month, value in (("2026-08", 3), ("2026-09", 4), ("2026-10", 5)):
        await measures.record(me, home["id"], "xss_measure", month, value)
    level = await monitoring.add_level(
        them,
        {
            "name": payload("xlvl"),
            "rank": "3",
            "review_every_days": "28",
            "description": payload("xlvldesc"),
        },
    )
    await monitoring.set_level(them, home["id"], {"level": level["id"], "note": payload("xlevel")})
    await monitoring.record_visit(
        them,
        home["id"],
        {
            "visited_on": "2026-11-04",
            "kind": "monitoring_visit",
            "outcome": "good",
            "summary": payload("xvisit"),
        },
    )
    await outbox.enqueue(
        Reminder(
            "action_overdue",
            f"xss:{action['id']}",
            manager["id"],
            case["id"],
            action["title"],
            dt.date(2026, 11, 1),
            f"/actions/{action['id']}",
        ),
        manager,
    )
    playbook = f"xss-{secrets.token_hex(4)}"
    await org_playbooks.upload(
        viewer_of(lead),
        PLAYBOOK.format(
            id=playbook,
            title=json.dumps(payload("xpbtitle")),
            summary=json.dumps(payload("xpbsummary")),
            action=json.dumps(payload("xpbaction")),
            step=json.dumps(payload("xpbstep")),
            why=json.dumps(payload("xpbwhy")),
        ),
        "playbook.yaml",
    )
    return {
        "playbook": {"id": playbook},
        "admin": admin,
        "manager": manager,
        "lead": lead,
        "commissioner": commissioner,
        "provider": provider,
        "home": home,
        "case": case,
        "finding": finding,
        "action": action,
        "review": review,
        "assessment": assessment,
    }


# who looks, where, and which of the hostile fields that page must show (escaped)
PAGES = {
    "manager": [
        ("/", {"xorg", "xuser", "xsvc"}),
        ("/services/{home}", {"xsvc"}),
        ("/services/{home}/edit", {"xsvc"}),
        ("/services/{home}/ratings/new", {"xsvc"}),
        ("/cases/{case}", {"xsvc", "xfinding"}),
        ("/cases/{case}/findings/new", {"xsvc"}),
        ("/findings/{finding}/edit", {"xfinding"}),
        ("/cases/{case}/activity", {"xaction", "xuser", "xwithdrawn"}),
        ("/cases/{case}/plan", {"xaction", "xfinding"}),
        ("/cases/{case}/plan/build", {"xfinding"}),
        ("/cases/{case}/plan/print", {"xaction", "xfinding"}),
        ("/actions/{action}", {"xaction", "xnote", "xevidence", "xwithdrawn", "xfinding"}),
        ("/cases/{case}/reviews/new", {"xsvc"}),
        ("/reviews/{review}", {"xattendees", "xrnotes", "xdecisions"}),
        ("/my/actions", {"xaction"}),
        ("/notifications", {"xaction"}),
        ("/services/{home}/assessments", {"xsvc"}),
        ("/services/{home}/assessments/new", {"xsvc"}),
        ("/assessments/{assessment}", {"xassess"}),
        ("/services/{home}/measures", {"xmeasure"}),
        ("/services/{home}/briefing", {"xsvc", "xaction"}),
        ("/measures", set()),
        ("/profile", {"xuser"}),
        ("/schema", {"xuser", "xorg"}),  # the API reference shows who is logged in
        ("/playbooks", {"xpbtitle"}),
        ("/playbooks/{playbook}", {"xpbtitle", "xpbsummary", "xpbaction", "xpbstep", "xpbwhy"}),
    ],
    "lead": [
        ("/portfolio", {"xsvc"}),
        ("/measures", {"xmeasure"}),
        ("/services/{home}/briefing", {"xsvc", "xaction", "xmeasure"}),
    ],
    "commissioner": [
        ("/", {"xsvc"}),
        ("/portfolio", {"xsvc", "xorg", "xlvl"}),
        ("/services/{home}/monitoring", {"xvisit", "xlevel", "xlvl"}),
        ("/monitoring/levels", {"xlvl", "xlvldesc"}),
        ("/services/{home}/briefing", {"xsvc", "xaction"}),
        ("/cases/{case}", {"xsvc", "xfinding"}),
    ],
    "admin": [
        ("/admin", set()),
        ("/admin/organisations", {"xorg"}),
        ("/admin/organisations/{provider}", {"xorg", "xuser"}),
        ("/admin/users", {"xuser", "xorg"}),
        ("/admin/users/{manager}", {"xuser"}),
        ("/admin/services", {"xsvc", "xorg"}),
        ("/admin/services/{home}", {"xsvc"}),
        ("/admin/outbox", {"xaction"}),
        ("/admin/imports", set()),
    ],
}
# pages without any user-written text
NO_USER_TEXT = {
    "/login",
    "/unsubscribe/{token:str}",
    "/password/forgot",
    "/password/reset/{token:str}",
}


def _fill(path: str, scene: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(scene[m.group(1)]["id"]), path)


async def test_html_and_script_in_user_text_are_shown_as_text(app, hostile):
    """Every HTML page of the app is fetched (a new page must join PAGES)."""
    problems, swept = [], set(NO_USER_TEXT)
    for role, pages in PAGES.items():
        async with http_client(app) as client:
            await log_in(client, hostile[role])
            for template, shown in pages:
                path = _fill(template, hostile)
                swept.add(route_of(path))
                response = await client.get(path)
                if response.status_code != 200:
                    problems.append(f"{role} {path}: status {response.status_code}")
                    continue
                body = response.text
                raw = [r for r in RAW if r in body]
                if raw:
                    problems.append(f"{role} {path}: raw {raw}")
                missing = sorted(tag for tag in shown if escaped(tag) not in body)
                if missing:
                    problems.append(f"{role} {path}: escaped text missing for {missing}")
                inline = [s for s in re.findall(r"<script\b[^>]*>", body) if " src=" not in s]
                if inline:
                    problems.append(f"{role} {path}: inline script {inline}")
    assert problems == [], "\n".join(problems)
    assert html_page_routes() - swept == set(), "add these pages to PAGES"


async def test_the_json_api_returns_user_text_unchanged_as_json(hostile):
    """The API is JSON (never HTML): text comes back as written, with a JSON media type."""
    bearer = {"Authorization": f"Bearer {await api_token(hostile['manager'])}"}
    async with http_client(create_app()) as client:
        response = await client.get(f"/api/v1/actions/{hostile['action']['id']}", headers=bearer)
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["action"]["title"] == payload("xaction")


# --- CSV exports ---------------------------------------------------------------------------

FORMULAS = {
    "org": "+cmd|' /C calc'!A0",
    "user": "@SUM(1+1)*cmd|' /C calc'!A0",
    "svc": '=HYPERLINK("http://evil.example","open")',
    "action": "-2+3+cmd|' /C calc'!A0",
    "finding": "=1+1",
}


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _check_csv(name: str, text: str, planted: list[str]) -> list[str]:
    problems = []
    cells = _cells(text)
    for value in planted:
        holding = [c for c in cells if value.lstrip("=+-@") in c]
        if not holding:
            problems.append(f"{name}: {value!r} is not exported")
        for cell in holding:
            if cell.startswith(("=", "+", "-", "@")):
                problems.append(f"{name}: {cell!r} would run as a formula")
    for cell in cells:
        if cell.startswith(("=", "+", "@", "\t", "\r")):
            problems.append(f"{name}: cell {cell!r} starts like a formula")
        if cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", cell):
            problems.append(f"{name}: cell {cell!r} starts like a formula")
    return problems


async def test_csv_exports_keep_formulas_as_text(app, world):
    provider = await world.org(OrgKind.PROVIDER, FORMULAS["org"])
    council = await world.org(OrgKind.COMMISSIONER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name=FORMULAS["user"])
    lead = await world.user(provider, Role.QUALITY_LEAD)
    commissioner = await world.user(council, Role.COMMISSIONER)
    home = await world.service(provider, manager, (council,), FORMULAS["svc"])
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me,
        case["id"],
        {"regulation": "12", "key_question": "safe", "description": FORMULAS["finding"]},
    )
    await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": FORMULAS["action"],
                "theme": "staffing",
                "due_on": "2026-12-01",
                "finding_ids": [finding["id"]],
            }
        ],
    )
    exports = {
        "plan.csv": (manager, f"/cases/{case['id']}/plan.csv", ["action", "finding"]),
        "activity.csv": (manager, f"/cases/{case['id']}/activity.csv", ["user"]),
        "portfolio.csv (commissioner)": (commissioner, "/portfolio.csv", ["svc", "org"]),
        "portfolio.csv (quality)": (lead, "/portfolio.csv", ["svc"]),
    }
    problems = []
    for name, (user, path, planted) in exports.items():
        async with http_client(app) as client:
            await log_in(client, user)
            response = await client.get(path)
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/csv"), name
        assert response.headers["content-disposition"].startswith("attachment"), name
        problems += _check_csv(name, response.text, [FORMULAS[k] for k in planted])
    assert problems == [], "\n".join(problems)


async def test_every_action_of_the_plan_is_in_the_plan_csv(client, world):
    scene = await _manager_with_action(world)  # its one action answers no finding
    await log_in(client, scene["manager"])
    exported = await client.get(f"/cases/{scene['case']['id']}/plan.csv")
    assert scene["action"]["title"] in _cells(exported.text)


async def test_page_csv_downloads_open_in_excel_as_utf8(client, world):
    """Every CSV a person downloads from a page starts with the byte-order mark (Excel
    reads UTF-8 only then) and is an attachment; the measures upload takes the mark back."""
    scene = await _manager_with_action(world)
    await log_in(client, scene["manager"])
    case_id = scene["case"]["id"]
    for path in (
        f"/cases/{case_id}/plan.csv",
        f"/cases/{case_id}/activity.csv",
        "/measures/example.csv",
    ):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.content.startswith("\ufeff".encode()), path
        assert response.headers["content-disposition"].startswith("attachment"), path


# --- emails ----------------------------------------------------------------------------------


def test_emails_escape_names_in_html_and_keep_plain_text_plain():
    kinds = sorted(
        p.name.removesuffix(".html")
        for p in (TEMPLATES_DIR / "emails").glob("*.html")
        if not p.name.startswith("_")
    )
    assert "action_overdue" in kinds and "digest" in kinds
    context = {
        "name": payload("xname"),
        "subject_of": payload("xsubject"),
        "on": dt.date(2026, 12, 1),
        "link": "/actions/1",
        "week": "2026-W48",
        "unsubscribe": "https://improve.example/unsubscribe/1.abc",
        "minutes": 60,
        "lines": [
            {
                "case_id": 1,
                "service": payload("xservice"),
                "stage": "plan_agreed",
                "overdue": 2,
                "missed_reviews": 1,
                "rag_change": "amber → red",
                "days_to_reinspection": 30,
                "manager_left": True,
            }
        ],
    }
    for kind in kinds:
        subject, text, html = mail.render(kind, context)
        assert not [r for r in RAW if r in html], kind
        assert escaped("xname") in html, kind
        if kind == "digest":
            assert escaped("xservice") in html
        elif kind != "password_reset":  # about the account, not a case: no subject_of
            assert escaped("xsubject") in html, kind
        # the plain part is not HTML: the name is printed as written, not as entities
        assert payload("xname") in text and "&lt;" not in text, kind
        assert "&lt;" not in subject, kind
