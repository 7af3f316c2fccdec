"""Secret links stay out of the logs (issue 15 point 7.7): the calendar address, the
password-reset link and the unsubscribe link carry their key in the path, and any
`?token=`-like query carries one too; neither uvicorn's access log nor ours ever writes
them. And a malformed or non-ASCII token answers 404, never 500.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from conftest import TEST_DATABASE_URL, TEST_SECRET, csrf_token, free_port

from improve import clock
from improve.accounts import resets
from improve.accounts.tables import OrgKind, Role, User
from improve.reminders import calendar, digests
from improve.web import redact

MALFORMED = ["é", "1-é", "1-1-é", "²", "1.é", "١-abc", "1-" + "ü" * 40 + ".ics", "1-x-abc", "%ff"]


@pytest.mark.parametrize("token", MALFORMED)
async def test_malformed_or_non_ascii_tokens_answer_404(client, token):
    form = {"_csrf_token": await csrf_token(client), "new_password": "x", "confirm_password": "x"}
    wrong = {}
    for method, path in (
        ("GET", "/password/reset/{}"),
        ("POST", "/password/reset/{}"),
        ("GET", "/calendar/{}"),
        ("GET", "/unsubscribe/{}"),
        ("POST", "/unsubscribe/{}"),
    ):
        response = await client.request(
            method,
            path.format(token),
            data=form if method == "POST" else None,
            follow_redirects=False,
        )
        if response.status_code != 404:
            wrong[f"{method} {path}"] = response.status_code
    assert wrong == {}


def test_redact_hides_the_key_of_every_secret_link():
    lines = {
        "GET /calendar/12-AbC_d-eF.ics HTTP/1.1": "GET /calendar/[redacted] HTTP/1.1",
        "/password/reset/3-1790000000-sig_NAT": "/password/reset/[redacted]",
        "POST /unsubscribe/7.abcdef0123 200": "POST /unsubscribe/[redacted] 200",
        "/login?next=%2Fpassword%2Freset%2F3-17-s": "/login?next=%2Fpassword%2Freset%2F[redacted]",
        "/profile?token=s3cret&x=1": "/profile?token=[redacted]&x=1",
        "/x?a=1&api_key=k&signature=s": "/x?a=1&api_key=[redacted]&signature=[redacted]",
        "/calendar/%C3%A9": "/calendar/[redacted]",
        "/cases/12/activity?page=2": "/cases/12/activity?page=2",
    }
    assert {line: redact.redact(line) for line in lines} == lines


def test_log_records_are_redacted_whoever_writes_them(caplog):
    redact.install()
    caplog.set_level(logging.INFO)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/calendar/9-SeCrEt.ics", "1.1", 200
    )
    logging.getLogger("improve.errors").info("refused /password/reset/9-99-SeCrEt")
    assert "SeCrEt" not in caplog.text
    assert caplog.text.count("[redacted]") == 2


@pytest.fixture(scope="module")
def served():
    """A real `improve serve` process; its whole log (uvicorn's and ours) in a file."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")},
        "IMPROVE_DATABASE_URL": TEST_DATABASE_URL,
        "IMPROVE_MODE": "production",
        "IMPROVE_SECRET_KEY": TEST_SECRET,
        "IMPROVE_BASE_URL": base,
        "IMPROVE_LOG_LEVEL": "INFO",
        "IMPROVE_SCHEDULER": "off",
    }
    script = Path(sys.executable).with_name("improve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]
    workdir = Path(tempfile.mkdtemp(prefix="improve-logs-"))
    log_path = workdir / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"improve serve did not become ready:\n{log_path.read_text()}")
        time.sleep(0.2)
    yield base, log_path, process
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=15)


async def test_the_servers_log_never_holds_a_secret_link(served, world):
    base, log_path, process = served
    user = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    row = await User.select(User.id, User.password_hash).where(User.id == user["id"]).first()
    secrets = {
        "calendar": await calendar.feed_token_for(user["id"]),
        "reset": resets.make_token(row, clock.now()),
        "unsubscribe": digests.unsubscribe_token(user["id"]),
        "query": "QuErYsEcReT42",
    }
    async with httpx.AsyncClient(base_url=base) as http:
        answers = {
            "calendar": await http.get(f"/calendar/{secrets['calendar']}.ics"),
            "reset": await http.get(f"/password/reset/{secrets['reset']}"),
            "unsubscribe": await http.get(f"/unsubscribe/{secrets['unsubscribe']}"),
            "query": await http.get(f"/login?token={secrets['query']}"),
            "non-ascii": await http.get("/calendar/1-\u00fcnicode-s3cr3t.ics"),
        }
    assert {k: r.status_code for k, r in answers.items()} == {
        "calendar": 200,
        "reset": 200,
        "unsubscribe": 200,
        "query": 200,
        "non-ascii": 404,
    }
    process.terminate()  # flush and close: everything it wrote is in the file
    process.wait(timeout=15)
    log = log_path.read_text()
    assert "GET /calendar/[redacted]" in log, log  # the access log is there, redacted
    leaked = {name: s for name, s in secrets.items() if s in log}
    assert leaked == {}, log
    assert "s3cr3t" not in log and "%C3%BCnicode" not in log
