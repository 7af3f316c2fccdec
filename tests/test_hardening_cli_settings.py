"""Every command that needs the secret key or the database checks the settings first, as
`improve serve` and `improve jobs run` do: from cron, `improve jobs run-once` with no
secret key stops with the same message and sends nothing (it used to sign unsubscribe
links with an empty key)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_DATABASE_URL

from improve import clock
from improve.reminders.tables import Outbox
from improve.settings import get_settings

REFUSAL = "improve: IMPROVE_SECRET_KEY is not set"


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
        env={**base, "IMPROVE_DATABASE_URL": TEST_DATABASE_URL, **env},
        stdin=subprocess.DEVNULL,
    )


async def _pending(email: str) -> int:
    rows = await Outbox.insert(
        Outbox(
            kind="digest",
            dedupe_key=f"cli-settings:{email}",
            email=email,
            subject="Weekly digest",
            text_body="x",
            html_body="x",
            status="pending",
            created_at=clock.now(),
        )
    ).returning(Outbox.id)
    return rows[0]["id"]


async def test_run_once_without_a_secret_key_stops_as_serve_does_and_sends_nothing(tmp_path, smtp):
    message = await _pending(f"cli.{tmp_path.name}@example.org")
    mail = {
        "IMPROVE_SMTP_HOST": "127.0.0.1",
        "IMPROVE_SMTP_PORT": str(get_settings().smtp_port),
        "IMPROVE_SMTP_SECURITY": "none",
        "IMPROVE_MAIL_PAUSE_SECONDS": "0",
    }
    serve = improve("serve", "--port", "1", cwd=tmp_path, IMPROVE_SECRET_KEY="", **mail)
    assert serve.returncode == 2 and serve.stderr.startswith(REFUSAL), serve.stderr
    outbox = await Outbox.count()
    for job in ("deliver", "digests", "reminders"):
        once = improve(
            "jobs",
            "run-once",
            job,
            "--now",
            "2026-12-07T07:00",
            cwd=tmp_path,
            IMPROVE_SECRET_KEY="",
            **mail,
        )
        assert once.returncode == 2, (job, once.stdout, once.stderr)
        assert once.stderr == serve.stderr, job  # the same message, word for word
        assert once.stdout == ""
    assert smtp.messages == []
    assert await Outbox.count() == outbox  # no digest written with an empty key
    row = await Outbox.select(Outbox.status).where(Outbox.id == message).first()
    assert row["status"] == "pending"


@pytest.mark.parametrize(
    "args",
    [
        ("migrate",),
        ("org", "create", "--name", "Never made", "--kind", "provider"),
        ("user", "create", "--email", "never@example.org", "--org", "x", "--role", "admin"),
        ("import-cqc", "missing.json"),
        ("jobs", "run"),
        ("jobs", "run-once", "deliver"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_every_command_that_needs_the_key_or_the_database_checks_first(tmp_path, args):
    fresh = f"sqlite:///{tmp_path}/never.sqlite"
    refused = improve(
        *args,
        cwd=tmp_path,
        IMPROVE_SECRET_KEY="short",
        IMPROVE_DATABASE_URL=fresh,
        IMPROVE_USER_PASSWORD="a long enough password",
    )
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith("improve: IMPROVE_SECRET_KEY is too short"), refused.stderr
    assert not (tmp_path / "never.sqlite").exists()  # nothing was touched


def test_the_demo_needs_no_key(tmp_path):
    """The demo makes its own settings (a throwaway key): no check to fail."""
    made = improve("demo", "--no-serve", cwd=tmp_path, IMPROVE_SECRET_KEY="")
    assert made.returncode == 0, made.stderr
