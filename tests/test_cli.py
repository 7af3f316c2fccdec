"""The `improve` command: migrate, org create, user create, demo."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import TEST_DATABASE_URL, TEST_SECRET

from improve.accounts import login


def improve(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("improve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]
    base = {k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")}
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**base, "IMPROVE_SECRET_KEY": TEST_SECRET, **env},
        stdin=subprocess.DEVNULL,
    )


def test_migrate_builds_a_fresh_database(tmp_path):
    result = improve(
        "migrate", cwd=tmp_path, IMPROVE_DATABASE_URL=f"sqlite:///{tmp_path}/fresh.sqlite"
    )
    assert result.returncode == 0, result.stderr
    tables = {
        r[0]
        for r in sqlite3.connect(tmp_path / "fresh.sqlite").execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    assert {"organisation", "app_user", "service", "commissioning", "user_session"} <= tables


async def test_org_and_user_create_from_the_command_line(tmp_path):
    env = {"IMPROVE_DATABASE_URL": TEST_DATABASE_URL}
    org = improve(
        "org",
        "create",
        "--name",
        "Cli Operators",
        "--kind",
        "operator",
        "--slug",
        "cli-ops",
        cwd=tmp_path,
        **env,
    )
    assert org.returncode == 0, org.stderr
    user = improve(
        "user",
        "create",
        "--email",
        "cli.admin@example.org",
        "--org",
        "cli-ops",
        "--role",
        "admin",
        "--name",
        "Cli Admin",
        cwd=tmp_path,
        IMPROVE_USER_PASSWORD="a long cli password",
        **env,
    )
    assert user.returncode == 0, user.stderr
    assert "Created cli.admin@example.org (admin) in Cli Operators" in user.stdout
    viewer = await login.authenticate("cli.admin@example.org", "a long cli password")
    assert viewer.is_admin


def test_user_create_explains_what_is_wrong(tmp_path):
    env = {"IMPROVE_DATABASE_URL": TEST_DATABASE_URL}
    no_password = improve(
        "user",
        "create",
        "--email",
        "x@example.org",
        "--org",
        "cli-ops",
        "--role",
        "admin",
        cwd=tmp_path,
        **env,
    )
    assert no_password.returncode == 2 and "IMPROVE_USER_PASSWORD" in no_password.stderr
    bad_org = improve(
        "user",
        "create",
        "--email",
        "x@example.org",
        "--org",
        "no-such-org",
        "--role",
        "admin",
        cwd=tmp_path,
        IMPROVE_USER_PASSWORD="long enough pw",
        **env,
    )
    assert bad_org.returncode == 2 and "org: no organisation" in bad_org.stderr


def test_demo_creates_then_reuses_its_database(tmp_path):
    first = improve("demo", "--no-serve", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "manager@oakwood.demo" in first.stdout and "http://127.0.0.1:8000/" in first.stdout
    database = tmp_path / "var" / "demo.sqlite"
    count = sqlite3.connect(database).execute("SELECT count(*) FROM service").fetchone()[0]
    assert count >= 5
    stages = {r[0] for r in sqlite3.connect(database).execute("SELECT stage FROM improvement_case")}
    assert {"assessing", "plan_drafted", "sustaining", "closed"} <= stages
    findings = sqlite3.connect(database).execute("SELECT count(*) FROM finding").fetchone()[0]
    assert findings >= 10
    db = sqlite3.connect(database)
    statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM plan_action")}
    assert {"verified", "done", "blocked", "in_progress", "not_started"} <= statuses
    assert db.execute("SELECT count(*) FROM evidence").fetchone()[0] >= 1
    assert (tmp_path / "var" / "uploads").is_dir()
    again = improve("demo", "--no-serve", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sqlite3.connect(database).execute("SELECT count(*) FROM service").fetchone()[0] == count


def test_import_cqc_from_the_command_line(tmp_path):
    data = Path(__file__).parent / "data"
    env = {"IMPROVE_DATABASE_URL": TEST_DATABASE_URL}
    org = improve(
        "org",
        "create",
        "--name",
        "Cli Import Care",
        "--kind",
        "provider",
        "--slug",
        "cli-import",
        cwd=tmp_path,
        **env,
    )
    assert org.returncode == 0, org.stderr
    record = json.loads((data / "cqc_location_assessment_only.json").read_text())
    record["locationId"] = "1-777000001"
    (tmp_path / "one.json").write_text(json.dumps([record]))
    result = improve("import-cqc", "one.json", "--provider", "cli-import", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert "1 created, 0 updated, 0 unchanged, 1 ratings added" in result.stdout
    again = improve("import-cqc", "one.json", cwd=tmp_path, **env)
    assert "0 created, 0 updated, 1 unchanged, 0 ratings added" in again.stdout
    (tmp_path / "bad.json").write_text(json.dumps([record, {"locationId": "1-777000002"}]))
    bad = improve("import-cqc", "bad.json", cwd=tmp_path, **env)
    assert bad.returncode == 2
    assert "bad.json [1].name: is missing" in bad.stderr
    assert "Nothing was imported." in bad.stderr
    directory = improve(
        "import-cqc", "--directory", str(data / "care_directory.csv"), cwd=tmp_path, **env
    )
    assert directory.returncode == 0, directory.stderr


def test_demo_reminders_and_digests_arrive_once_in_a_local_smtp_server(tmp_path):
    import email
    import socket
    from email import policy

    from aiosmtpd.controller import Controller

    class Inbox:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    assert improve("demo", "--no-serve", cwd=tmp_path).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {
        "IMPROVE_DATABASE_URL": "sqlite:///var/demo.sqlite",
        "IMPROVE_SMTP_HOST": "127.0.0.1",
        "IMPROVE_SMTP_PORT": str(port),
        "IMPROVE_SMTP_SECURITY": "none",
        "IMPROVE_MAIL_PAUSE_SECONDS": "0",
    }
    try:
        for job in ("reminders", "digests", "deliver"):
            result = improve("jobs", "run-once", job, cwd=tmp_path, **env)
            assert result.returncode == 0, result.stderr
        first = len(inbox.messages)
        for job in ("reminders", "digests", "deliver"):
            improve("jobs", "run-once", job, cwd=tmp_path, **env)
    finally:
        controller.stop()
    subjects = [m["Subject"] for m in inbox.messages]
    assert first >= 5 and len(inbox.messages) == first  # the second run sent nothing new
    assert any(s.startswith("Overdue since") for s in subjects)
    assert any(s.startswith("improve weekly digest") for s in subjects)
