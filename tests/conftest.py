"""Test set-up: a real database built by the committed migrations.

SQLite by default (a fresh file per run). Set IMPROVE_TEST_DATABASE_URL to a
PostgreSQL database to run the same suite there; its public schema is wiped first,
so never point it at a database you care about.
"""

from __future__ import annotations

import asyncio
import email
import itertools
import os
import re
import secrets
import socket
import tempfile
from email import policy

import pytest

_TMP = tempfile.mkdtemp(prefix="improve-test-")
TEST_DATABASE_URL = os.environ.get("IMPROVE_TEST_DATABASE_URL") or f"sqlite:///{_TMP}/test.sqlite"
TEST_SECRET = secrets.token_urlsafe(48)

# Before anything imports improve: its settings and Piccolo's engine read these once.
os.environ.update(
    IMPROVE_DATABASE_URL=TEST_DATABASE_URL,
    IMPROVE_MODE="dev",
    IMPROVE_SECRET_KEY=TEST_SECRET,
    IMPROVE_BASE_URL="http://testserver.local",
    IMPROVE_SCHEDULER="off",
    IMPROVE_MAIL_PAUSE_SECONDS="0",
    # every request of the in-process client comes from 127.0.0.1: the suite's failed
    # logins must not add up to a per-address refusal (tests that check it set it low)
    IMPROVE_LOGIN_ADDRESS_ATTEMPTS="100000",
)
for _name in list(os.environ):
    if _name.startswith("IMPROVE_SMTP") or _name == "IMPROVE_USER_PASSWORD":
        del os.environ[_name]

import httpx  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from improve import db  # noqa: E402
from improve.access import Viewer, viewer_from_row  # noqa: E402
from improve.accounts import people, sessions, tokens  # noqa: E402
from improve.accounts.tables import OrgKind, Role  # noqa: E402
from improve.app import create_app  # noqa: E402
from improve.services import domain as services  # noqa: E402
from improve.services.tables import Service  # noqa: E402
from improve.settings import get_settings, override, use  # noqa: E402

# the browser suite's fixtures: a real server process and Chromium
pytest_plugins = ["browser_support"]

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


async def _wipe_postgres(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
async def database():
    """The schema, built once per run by the committed migrations (never create_table)."""
    if not TEST_DATABASE_URL.startswith("sqlite"):
        await _wipe_postgres(TEST_DATABASE_URL)
    await db.migrate()
    # What the app's lifespan does per process: WAL on SQLite, the pool on PostgreSQL.
    # Done once here, in the tests' own event loop, which the app shares (see http_client);
    # the lifespan itself runs in the browser suite's real server.
    await db.prepare(pool_size=5)
    yield TEST_DATABASE_URL
    await db.release()


@pytest.fixture
def app():
    return create_app()


def http_client(app, base_url: str = "http://testserver.local") -> httpx.AsyncClient:
    """A client that calls the app in this event loop (Litestar's AsyncTestClient runs the
    app in another thread's loop, where a PostgreSQL pool could not be shared with tests)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def client(app):
    async with http_client(app) as c:
        yield c


def unique(text: str) -> str:
    return f"{text} {next(_seq)}-{secrets.token_hex(2)}"


def unique_location_id() -> str:
    """A CQC location id no other test and no file under tests/data uses: a test must
    never make one from a row id, which another test's data may already hold."""
    return f"1-8{next(_seq):04d}{secrets.randbelow(10**6):06d}"


class World:
    """Factories for incidental rows: organisations, people, services."""

    async def org(self, kind: OrgKind, name: str = "") -> dict:
        return await people.create_organisation(unique(name or kind.value.title()), kind)

    async def user(self, org: dict, role: Role, name: str = "") -> dict:
        email = f"{role.value}.{next(_seq)}.{secrets.token_hex(3)}@example.org"
        return await people.create_user(
            email=email,
            name=name or unique(role.value),
            organisation_id=org["id"],
            role=role,
            password=PASSWORD,
        )

    async def admin(self) -> dict:
        return await self.user(await self.org(OrgKind.OPERATOR, "Operator"), Role.ADMIN)

    async def service(
        self,
        provider: dict,
        manager: dict | None = None,
        commissioners: tuple[dict, ...] = (),
        name: str = "",
    ) -> dict:
        operator = Viewer(0, "", "", Role.ADMIN, 0, "", OrgKind.OPERATOR)
        return await services.create(
            operator,
            {
                "name": unique(name or "Home"),
                "provider": provider["id"],
                "manager": manager["id"] if manager else None,
                "commissioners": [c["id"] for c in commissioners],
            },
        )


@pytest.fixture
def world() -> World:
    return World()


def viewer_of(user: dict) -> Viewer:
    return viewer_from_row(user)


async def log_in(client: httpx.AsyncClient, user: dict) -> None:
    """A browser session for the user, as the login form would create it."""
    token = await sessions.start(user["id"])
    client.cookies.set(sessions.COOKIE_NAME, token, domain="testserver.local")


async def csrf_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/login", follow_redirects=True)
    match = re.search(r'"X-CSRFToken": "([^"]+)"', page.text)
    assert match, "every page carries a CSRF token"
    return match.group(1)


async def api_token(user: dict) -> str:
    _, plaintext = await tokens.create(viewer_of(user), "tests")
    return plaintext


def run(coro):
    """For synchronous tests (the browser suite) that need a domain call."""
    return asyncio.run(coro)


# --- a real SMTP server on loopback ---------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def quiet_outbox():
    """Email left waiting by tests that ran before (reminder scans whose mail nobody
    sends) is set aside, so a test that delivers works through its own emails only,
    whatever order the suite runs in."""
    from improve.reminders.tables import Outbox

    await Outbox.update(
        {Outbox.status: "failed", Outbox.last_error: "set aside by an earlier test"}
    ).where(Outbox.status.is_in(["pending", "sending"]))


@pytest.fixture
def smtp(quiet_outbox):
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    saved = get_settings()
    override(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_from="improve@example.org",
        mail_pause_seconds=0,
    )
    yield inbox
    use(saved)
    controller.stop()


@pytest.fixture
def count_queries(monkeypatch):
    """Counts the statements the app sends to the database (the real engine runs them)."""
    engine_class = type(Service._meta.db)  # the engine's slots forbid patching the instance
    original = engine_class.run_querystring
    counter = {"n": 0}

    async def counting(self, *args, **kwargs):
        counter["n"] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(engine_class, "run_querystring", counting)
    return counter
