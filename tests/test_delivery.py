"""Delivering the outbox under faults: slow and refusing mail servers, two senders at
once, batches longer than the lease, and a sender stopped mid-send."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import TEST_DATABASE_URL, TEST_SECRET, free_port

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.reminders import outbox
from improve.reminders.rules import Reminder
from improve.reminders.tables import Outbox
from improve.settings import get_settings, override, use


class SlowServer:
    """A real SMTP server on loopback that takes ``delay`` seconds over each message and
    refuses the recipients it is told to (550) or asks them to try later (451)."""

    def __init__(self, delay: float = 0.0, refuse: str = "", defer: str = "") -> None:
        self.delay, self.refuse, self.defer = delay, refuse, defer
        self.received: list[email.message.EmailMessage] = []
        self.sending = 0

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if self.refuse and self.refuse in address:
            return "550 5.1.1 No such user here"
        if self.defer and self.defer in address:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.sending += 1
        await asyncio.sleep(self.delay)
        self.received.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
def mail_server(quiet_outbox):
    made = []

    def start(**kwargs) -> SlowServer:
        server = SlowServer(**kwargs)
        port = free_port()
        controller = Controller(server, hostname="127.0.0.1", port=port)
        controller.start()
        made.append(controller)
        override(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_security="none",
            mail_pause_seconds=0,
        )
        return server

    saved = get_settings()
    yield start
    use(saved)
    outbox.resume_sending()
    for controller in made:
        controller.stop()


async def _queue(world, count: int, tag: str, address: str = "") -> list[int]:
    """``count`` emails of our own, pending; their outbox ids."""
    provider = await world.org(OrgKind.PROVIDER)
    person = await world.user(provider, Role.REGISTERED_MANAGER)
    if address:
        person = {**person, "email": address}
    ids = []
    for n in range(count):
        key = f"delivery-test:{tag}:{person['id']}:{n}"
        await outbox.enqueue(
            Reminder(
                kind="action_overdue",
                dedupe_key=key,
                user_id=person["id"],
                case_id=None,
                subject_of=f"{tag} {n}",
                on=dt.date(2026, 11, 1),
                link="/my-actions",
            ),
            person,
        )
        row = await Outbox.select(Outbox.id).where(Outbox.dedupe_key == key).first()
        ids.append(row["id"])
    return ids


async def _statuses(ids: list[int]) -> dict[int, dict]:
    rows = await Outbox.select(
        Outbox.id, Outbox.status, Outbox.attempts, Outbox.claim_token, Outbox.claimed_at
    ).where(Outbox.id.is_in(ids))
    return {r["id"]: r for r in rows}


def _subjects(server: SlowServer, tag: str) -> Counter:
    return Counter(str(m["Subject"]) for m in server.received if tag in str(m["Subject"]))


async def test_two_senders_on_a_batch_longer_than_the_lease_send_each_email_once(
    world, mail_server
):
    server = mail_server(delay=0.25)
    override(mail_lease_seconds=3)
    ids = await _queue(world, 16, "long batch")

    async def sender(start_after: float) -> dict:
        await asyncio.sleep(start_after)
        # each run stops its clock at its start, as the job does
        with clock.frozen(clock.now()):
            return await outbox.deliver()

    # the first run takes about 4 s, longer than the lease; the others start later
    runs = await asyncio.gather(sender(0), sender(3.5), sender(4.0))
    sent = _subjects(server, "long batch")
    assert len(sent) == 16 and set(sent.values()) == {1}, sent
    assert sum(r["sent"] for r in runs) >= 16  # (other tests' emails may be pending too)
    assert all(r["status"] == "sent" for r in (await _statuses(ids)).values())


async def test_a_send_longer_than_the_lease_keeps_its_claim(world, mail_server):
    server = mail_server(delay=4.5)
    override(mail_lease_seconds=3)
    [only] = await _queue(world, 1, "slow one")
    first = asyncio.create_task(outbox.deliver())
    await asyncio.sleep(3.6)  # past the lease: renewed meanwhile, so not stale
    held = (await _statuses([only]))[only]
    await outbox.deliver()  # another sender, past the lease: the claim was renewed
    assert (await _statuses([only]))[only]["claim_token"] == held["claim_token"] != ""
    assert (await first)["sent"] >= 1
    assert sum(_subjects(server, "slow one").values()) == 1
    assert (await _statuses([only]))[only]["status"] == "sent"


async def test_a_permanent_refusal_fails_at_once_and_a_temporary_one_is_retried(world, mail_server):
    mail_server(refuse="nobody-", defer="later-")
    override(mail_max_attempts=8)
    [refused] = await _queue(world, 1, "refused", address="nobody-1@example.org")
    [deferred] = await _queue(world, 1, "deferred", address="later-1@example.org")
    await outbox.deliver()
    rows = await _statuses([refused, deferred])
    assert rows[refused]["status"] == "failed" and rows[refused]["attempts"] == 1
    assert rows[deferred]["status"] == "pending" and rows[deferred]["attempts"] == 1
    error = await Outbox.select(Outbox.last_error).where(Outbox.id == refused).first()
    assert "550" in error["last_error"]


def test_what_counts_as_permanent():
    import aiosmtplib

    assert outbox.permanent(aiosmtplib.SMTPDataError(554, "rejected"))
    assert outbox.permanent(aiosmtplib.SMTPSenderRefused(553, "no", "x@example.org"))
    assert not outbox.permanent(aiosmtplib.SMTPDataError(451, "later"))
    assert not outbox.permanent(aiosmtplib.SMTPAuthenticationError(535, "bad login"))
    assert not outbox.permanent(aiosmtplib.SMTPConnectResponseError(554, "no service"))
    assert not outbox.permanent(aiosmtplib.SMTPServerDisconnected("gone"))
    assert not outbox.permanent(TimeoutError())


async def test_a_stopping_sender_finishes_the_email_in_flight_and_takes_no_other(
    world, mail_server
):
    server = mail_server(delay=1.0)
    ids = await _queue(world, 3, "stopping")
    run = asyncio.create_task(outbox.deliver())
    while not server.sending:  # noqa: ASYNC110 (the server runs in its own thread)
        await asyncio.sleep(0.02)
    outbox.stop_sending()
    result = await run
    assert result["sent"] == 1 and len(server.received) == 1  # the one in flight, no other
    statuses = Counter(r["status"] for r in (await _statuses(ids)).values())
    assert statuses["pending"] >= 2 and statuses["sent"] <= 1, statuses


async def test_a_send_cancelled_mid_way_is_given_back_at_once(world, mail_server):
    server = mail_server(delay=5)
    [only] = await _queue(world, 1, "cancelled")
    run = asyncio.create_task(outbox.deliver())
    while not server.sending:  # noqa: ASYNC110 (the server runs in its own thread)
        await asyncio.sleep(0.02)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    row = (await _statuses([only]))[only]
    assert row["status"] == "pending" and row["claim_token"] == ""
    assert await Outbox.count().where(Outbox.status == "sending") == 0  # nothing held


async def test_two_senders_do_not_walk_the_batch_in_the_same_order(world, mail_server):
    server = mail_server()
    ids = await _queue(world, 20, "order")
    await outbox.deliver()
    order = [
        int(str(m["Subject"]).rsplit(" ", 1)[1])
        for m in server.received
        if "order" in str(m["Subject"])
    ]
    assert sorted(order) == list(range(20)) and order != list(range(20))
    assert len(ids) == 20


# --- the worker process -----------------------------------------------------------------


def _worker_env(port: int, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")}
    env.update(
        IMPROVE_DATABASE_URL=TEST_DATABASE_URL,
        IMPROVE_MODE="dev",
        IMPROVE_SECRET_KEY=TEST_SECRET,
        IMPROVE_SMTP_HOST="127.0.0.1",
        IMPROVE_SMTP_PORT=str(port),
        IMPROVE_SMTP_SECURITY="none",
        IMPROVE_MAIL_PAUSE_SECONDS="0",
        IMPROVE_UPLOAD_DIR=str(tmp_path / "uploads"),
        IMPROVE_SCHEDULER="off",
    )
    return env


def _improve() -> list[str]:
    script = Path(sys.executable).with_name("improve")
    return [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]


async def test_the_worker_stopped_by_sigterm_mid_send_finishes_it_and_exits_cleanly(
    world, tmp_path, quiet_outbox
):
    server = SlowServer(delay=2.0)
    port = free_port()
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        ids = await _queue(world, 3, "sigterm")
        worker = subprocess.Popen(  # noqa: ASYNC220 (a real process, watched below)
            [*_improve(), "jobs", "run"],
            env=_worker_env(port, tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not server.sending and time.monotonic() < deadline and worker.poll() is None:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        assert server.sending, "the worker never started sending"
        worker.send_signal(signal.SIGTERM)
        output, _ = await asyncio.to_thread(worker.communicate, timeout=60)
    finally:
        controller.stop()
    assert worker.returncode == 0, output
    assert "Traceback" not in output, output
    assert "stopped" in output and "job deliver:" in output, output
    assert len(server.received) == 1  # the one in flight, finished; no other taken
    statuses = Counter(r["status"] for r in (await _statuses(ids)).values())
    assert statuses["pending"] >= 2 and statuses["sent"] <= 1, statuses
    assert await Outbox.count().where(Outbox.status == "sending") == 0  # nothing held
