"""Reminders: due dates read from the rows, written once, delivered once over real SMTP
(aiosmtpd on loopback), retried when the mail server is down."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from conftest import (
    TEST_DATABASE_URL,
    TEST_SECRET,
    Inbox,
    csrf_token,
    free_port,
    log_in,
    viewer_of,
)

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.monitoring import domain as monitoring
from improve.plans import domain as plans
from improve.reminders import outbox, rules
from improve.reminders.tables import Notification, Outbox
from improve.settings import get_settings, override, use
from jobs import run_once

OPENED = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)


def test_rules():
    today = dt.date(2026, 5, 15)
    upcoming = rules.review_upcoming(
        case_id=1,
        service="Oak",
        audience="internal",
        label="Internal review",
        on=dt.date(2026, 5, 18),
        attendees=[3, 2, 3],
        today=today,
        days_before=3,
    )
    assert [r.user_id for r in upcoming] == [2, 3]
    assert (
        rules.review_upcoming(
            case_id=1,
            service="Oak",
            audience="internal",
            label="x",
            on=dt.date(2026, 5, 19),
            attendees=[2],
            today=today,
            days_before=3,
        )
        == []
    )
    overdue = rules.action_overdue(
        action_id=9,
        case_id=1,
        title="Fix",
        due_on=dt.date(2026, 5, 1),
        owner=4,
        managers=[5],
        quality_leads=[6],
        today=today,
    )
    assert [(r.kind, r.user_id) for r in overdue] == [
        ("action_overdue", 4),
        ("action_overdue", 5),
        ("action_escalated", 6),
    ]
    assert (
        rules.action_due_soon(
            action_id=9,
            case_id=1,
            title="Fix",
            due_on=dt.date(2026, 5, 22),
            owner=4,
            today=today,
            days_before=7,
        )[0].dedupe_key
        == "action-due:9:2026-05-22:4"
    )


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Mo Manager")
    lead = await world.user(provider, Role.QUALITY_LEAD, name="Lee Lead")
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": "Fix MAR charts",
                    "theme": "person_centred_care",
                    "due_on": "2026-05-20",
                    "owner": manager["id"],
                },
                {
                    "title": "Night staffing",
                    "theme": "staffing",
                    "due_on": "2026-05-01",
                    "owner": manager["id"],
                },
            ],
        )
    return {"case": case, "manager": manager, "lead": lead}


async def _mine(case_id: int) -> list[dict]:
    return (
        await Outbox.select(Outbox.kind, Outbox.dedupe_key, Outbox.email, Outbox.status)
        .where(Outbox.case == case_id)
        .order_by(Outbox.id)
    )


async def test_the_scan_writes_each_reminder_once(scene):
    now = dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC)  # internal review due 18 May
    first = await run_once("reminders", now)
    again = await run_once("reminders", now)
    assert first["errors"] == 0 and again["written"] == 0
    kinds = sorted({r["kind"] for r in await _mine(scene["case"]["id"])})
    assert kinds == ["action_due_soon", "action_escalated", "action_overdue", "review_upcoming"]
    rows = await _mine(scene["case"]["id"])
    escalated = [r for r in rows if r["kind"] == "action_escalated"]
    assert [r["email"] for r in escalated] == [scene["lead"]["email"]]
    unread = await outbox.unread_count(scene["manager"]["id"])
    assert unread == len([r for r in rows if r["email"] == scene["manager"]["email"]])


async def test_delivery_sends_once_with_text_html_and_an_invite(scene, smtp):
    now = dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC)
    await run_once("reminders", now)
    # a run sends at most 200: other tests may have left a backlog, so run until it is empty
    runs = [await run_once("deliver", now)]
    while runs[-1]["sent"]:
        runs.append(await run_once("deliver", now))
    assert sum(r["failed"] for r in runs) == 0
    mine = [
        (m["To"], m["Subject"])
        for m in smtp.messages
        if m["To"] in (scene["manager"]["email"], scene["lead"]["email"])
    ]
    assert len(mine) >= 4 and len(mine) == len(set(mine))  # each once, nothing twice
    assert (await run_once("deliver", now))["sent"] == 0
    review = next(
        m
        for m in smtp.messages
        if m["Subject"].startswith("Review on 18 May") and m["To"] == scene["manager"]["email"]
    )
    assert "Hello Mo Manager" in review.get_body(("plain",)).get_content()
    parts = {p.get_content_type() for p in review.walk()}
    assert {"text/plain", "text/html", "text/calendar"} <= parts
    calendar = next(p for p in review.walk() if p.get_content_type() == "text/calendar")
    assert "DTSTART;VALUE=DATE:20260518" in calendar.get_content()
    statuses = {r["status"] for r in await _mine(scene["case"]["id"])}
    assert statuses == {"sent"}


async def test_two_senders_never_send_the_same_message(scene, smtp):
    now = dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC)
    await run_once("reminders", now)
    mine = len(await _mine(scene["case"]["id"]))
    before = len(smtp.messages)
    results = await asyncio.gather(outbox.deliver(), outbox.deliver())
    assert sum(r["sent"] for r in results) == len(smtp.messages) - before
    subjects = [m["Subject"] + m["To"] for m in smtp.messages]
    assert len(subjects) == len(set(subjects))
    assert len(smtp.messages) - before >= mine


async def test_a_mail_server_outage_loses_nothing(scene, quiet_outbox):
    saved = get_settings()
    override(
        smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none", mail_pause_seconds=0
    )  # nothing listens there
    try:
        await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
        result = await outbox.deliver()
    finally:
        use(saved)
    assert result["failed"] >= 1 and result["sent"] == 0
    rows = await Outbox.select(Outbox.status, Outbox.attempts, Outbox.last_error).where(
        Outbox.case == scene["case"]["id"]
    )
    assert {r["status"] for r in rows} == {"pending"} and all(r["attempts"] == 1 for r in rows)


async def test_notifications_are_listed_and_marked_read(scene):
    await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
    user = scene["manager"]["id"]
    listed = await outbox.notifications(user)
    assert listed and await outbox.unread_count(user) == len(listed)
    await outbox.mark_read(user)
    assert await outbox.unread_count(user) == 0
    assert await Notification.count().where(Notification.user == user) == len(listed)


async def test_the_menu_shows_how_many_notifications_are_unread(scene, client):
    await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
    user = scene["manager"]["id"]
    unread = await outbox.unread_count(user)
    assert unread >= 2
    await log_in(client, scene["manager"])
    home = (await client.get("/")).text
    badge = f'<span class="badge">{unread}<span class="visually-hidden"> unread</span></span>'
    assert badge in home
    token = await csrf_token(client)
    await client.post("/notifications/read", data={"_csrf_token": token})
    assert 'class="badge"' not in (await client.get("/")).text
    await log_in(client, scene["lead"])  # someone else's reminders are not counted for them
    lead_unread = await outbox.unread_count(scene["lead"]["id"])
    lead_home = (await client.get("/")).text
    assert ('class="badge"' in lead_home) == bool(lead_unread)


async def test_a_long_unread_list_reads_99_plus(scene, client):
    """The count stops at 100, so a person's pages cost the same however much is unread."""
    user = scene["lead"]["id"]
    await Notification.insert(
        *[
            Notification(user=user, kind="action_overdue", title=f"n{i}", created_at=clock.now())
            for i in range(120)
        ]
    )
    await log_in(client, scene["lead"])
    assert '<span class="badge">99+<span' in (await client.get("/")).text


def test_run_once_from_the_command_line_with_a_date(tmp_path):
    script = Path(sys.executable).with_name("improve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")},
        "IMPROVE_DATABASE_URL": TEST_DATABASE_URL,
        "IMPROVE_SECRET_KEY": TEST_SECRET,
    }
    result = subprocess.run(
        [*command, "jobs", "run-once", "reminders", "--now", "2026-05-16T08:00"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reminders: due ")
    bad = subprocess.run(
        [*command, "jobs", "run-once", "nothing"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no job 'nothing'" in bad.stderr


async def test_the_web_app_runs_the_scheduler_when_asked(monkeypatch):
    from improve import db
    from improve.app import create_app

    async def nothing(*_):
        return None

    # the tests' own connection pool stays open: only the scheduler is under test here
    monkeypatch.setattr(db, "prepare", nothing)
    monkeypatch.setattr(db, "release", nothing)
    saved = get_settings()
    try:
        app = create_app(override(scheduler=True))
        async with app.lifespan():
            jobs = {job.id for job in app.state.scheduler.get_jobs()}
            assert jobs == {"reminders", "deliver", "digests"}
            job = app.state.scheduler.get_job("reminders")
            assert job.max_instances == 1 and job.coalesce is True
    finally:
        use(saved)


async def test_missed_reviews_and_cqc_deadlines_are_announced(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me,
            service["id"],
            {
                "published_on": "2026-04-30",
                "overall": "Inadequate",
                "enforcement": [
                    {
                        "kind": "warning_notice",
                        "regulation": "12",
                        "compliance_due_on": "2026-05-25",
                    }
                ],
            },
        )
        case = await cases.open_case(me, service["id"])
    # 22 May: internal review (18 May) missed; action plan (28 May) and warning notice
    # (25 May) within a week
    await run_once("reminders", dt.datetime(2026, 5, 22, 7, tzinfo=dt.UTC))
    rows = await Outbox.select(Outbox.kind, Outbox.dedupe_key, Outbox.email).where(
        Outbox.case == case["id"]
    )
    missed = [r for r in rows if r["kind"] == "review_missed"]
    assert sorted(r["email"] for r in missed) == sorted([manager["email"], lead["email"]])
    keys = {r["dedupe_key"].split(":")[2] for r in rows if r["kind"] == "deadline_near"}
    assert keys == {"action-plan", "warning-12"}


def test_the_worker_stops_cleanly_on_sigterm(tmp_path):
    import signal
    import time

    script = Path(sys.executable).with_name("improve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")},
        "IMPROVE_DATABASE_URL": TEST_DATABASE_URL,
        "IMPROVE_SECRET_KEY": TEST_SECRET,
    }
    worker = subprocess.Popen(
        [*command, "jobs", "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = [worker.stdout.readline() for _ in range(1)]
        while "running" not in said[-1] and len(said) < 20:  # log lines may come first
            said.append(worker.stdout.readline())
        assert "running" in said[-1], said
        time.sleep(0.5)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
        assert "stopped" in worker.stdout.read()
    finally:
        if worker.poll() is None:
            worker.kill()


async def test_weekly_digests_once_per_week_scoped_and_unsubscribable(world, smtp, client):
    from improve.reminders import digests

    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    council = await world.org(OrgKind.COMMISSIONER)
    watcher = await world.user(council, Role.COMMISSIONER)
    other_council = await world.user(await world.org(OrgKind.COMMISSIONER), Role.COMMISSIONER)
    service = await world.service(provider, manager, (council,), name="Digest House")
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        await plans.commit(
            me, case["id"], [], [{"title": "Late", "theme": "staffing", "due_on": "2026-05-05"}]
        )
        # the council holds the service at its own monitoring level: its digest says so
        council_viewer = viewer_of(watcher)
        await monitoring.add_default_levels(council_viewer)
        enhanced = next(
            lv
            for lv in await monitoring.levels_of(council["id"])
            if lv["name"] == "Enhanced monitoring"
        )
        await monitoring.set_level(
            council_viewer, service["id"], {"level": enhanced["id"], "review_on": "2026-06-01"}
        )
    monday = dt.datetime(2026, 5, 18, 6, tzinfo=dt.UTC)
    first = await run_once("digests", monday)
    again = await run_once("digests", monday)
    assert first["week"] == "2026-W21" and first["written"] >= 2 and again["written"] == 0
    rows = (
        await Outbox.select(Outbox.email, Outbox.text_body, Outbox.headers)
        .where(Outbox.kind == "digest")
        .output(load_json=True)
    )
    mine = {r["email"]: r for r in rows}
    assert watcher["email"] in mine and lead["email"] in mine
    assert (
        other_council["email"] not in mine
        or "Digest House" not in mine[other_council["email"]]["text_body"]
    )
    body = mine[watcher["email"]]["text_body"]
    assert "Digest House" in body and "Overdue actions: 1" in body
    assert "Your monitoring level: Enhanced monitoring (review due 1 June 2026)" in body
    assert "manager has left" not in body
    assert "monitoring level" not in mine[lead["email"]]["text_body"]  # the council's own
    assert "List-Unsubscribe" in mine[watcher["email"]]["headers"]
    # the shared test database may hold other tests' pending mail: deliver in batches until
    # the watcher's digest has gone (or nothing is left to send)
    for _ in range(50):
        batch = await run_once("deliver", monday)
        if any(m["To"] == watcher["email"] for m in smtp.messages) or not batch["sent"]:
            break
    sent = next(m for m in smtp.messages if m["To"] == watcher["email"])
    assert sent["List-Unsubscribe"].strip().startswith("<http") and sent["List-Unsubscribe-Post"]

    token = digests.unsubscribe_token(watcher["id"])
    assert digests.user_for_token(token) == watcher["id"]
    tampered = token[:-1] + ("1" if token[-1] != "1" else "2")
    assert digests.user_for_token(tampered) is None
    assert (await client.post(f"/unsubscribe/{tampered}")).status_code == 404
    done = await client.post(f"/unsubscribe/{token}")  # one click, no login, no CSRF
    assert done.status_code == 200 and "will not receive" in done.text
    next_week = await run_once("digests", monday + dt.timedelta(days=7))
    rows = await Outbox.select(Outbox.email).where(
        (Outbox.kind == "digest") & Outbox.dedupe_key.like("%2026-W22")
    )
    assert watcher["email"] not in {r["email"] for r in rows} and next_week["written"] >= 1


async def test_a_sender_killed_after_claiming_loses_nothing(scene, smtp):
    """A row claimed by a sender that died (status 'sending', stale claim) is taken over
    after the lease and sent once."""
    await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
    row = (
        await Outbox.select(Outbox.id, Outbox.email)
        .where((Outbox.case == scene["case"]["id"]) & (Outbox.status == "pending"))
        .first()
    )
    assert await outbox.claim(row["id"])  # ... and the process was killed here
    assert (await outbox.deliver())["released"] == 0  # within the lease: still held
    a_lease_ago = clock.wall() - outbox.lease() - dt.timedelta(minutes=1)
    await Outbox.update({Outbox.claimed_at: a_lease_ago}).where(Outbox.id == row["id"])
    result = await outbox.deliver()
    assert result["released"] >= 1
    status = await Outbox.select(Outbox.status).where(Outbox.id == row["id"]).first()
    assert status["status"] == "sent"
    assert (await outbox.deliver())["sent"] == 0


async def test_a_refusing_server_gets_every_message_once_it_comes_back(scene, quiet_outbox):
    inbox = Inbox()
    port = free_port()
    saved = get_settings()
    override(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_security="none",
        mail_pause_seconds=0,
        mail_max_attempts=5,
    )
    try:
        start = dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC)
        await run_once("reminders", start)
        ours = await Outbox.count().where(Outbox.case == scene["case"]["id"])
        with clock.frozen(start):
            down = await outbox.deliver()  # nothing listens yet
        assert down["sent"] == 0 and down["failed"] >= ours
        with clock.frozen(start + dt.timedelta(seconds=30)):
            waiting = await outbox.deliver()  # backing off: not tried again yet
        assert waiting["failed"] == 0 and waiting["sent"] == 0
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            with clock.frozen(start + dt.timedelta(minutes=2)):
                back = await outbox.deliver(limit=1000)
        finally:
            controller.stop()
    finally:
        use(saved)
    mine = [
        m for m in inbox.messages if m["To"] in (scene["manager"]["email"], scene["lead"]["email"])
    ]
    assert len(mine) == ours and back["sent"] >= ours
    assert len({m["Subject"] + m["To"] for m in mine}) == ours


def test_backoff_grows_and_is_capped():
    assert [outbox.backoff(n).seconds // 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert outbox.backoff(30) == outbox.MAX_WAIT


@pytest.mark.parametrize(
    ("published", "opened", "review_on", "scan_at"),
    [
        # after the October change: 23:30 UTC on 24 Oct is 00:30 on 25 Oct in London
        (
            "2026-10-01",
            dt.datetime(2026, 10, 14, 9, tzinfo=dt.UTC),
            dt.date(2026, 10, 28),
            dt.datetime(2026, 10, 24, 23, 30, tzinfo=dt.UTC),
        ),
        # after the March change: 23:30 UTC on 1 Apr is 00:30 on 2 Apr (BST)
        (
            "2026-03-15",
            dt.datetime(2026, 3, 22, 9, tzinfo=dt.UTC),
            dt.date(2026, 4, 5),
            dt.datetime(2026, 4, 1, 23, 30, tzinfo=dt.UTC),
        ),
    ],
)
async def test_reminders_go_out_on_the_right_local_day_across_the_clock_changes(
    world, published, opened, review_on, scan_at
):
    """A review 3 local days away gets its reminder although it is 4 days away in UTC."""
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    with clock.frozen(opened):
        await cases.record_rating(
            me, service["id"], {"published_on": published, "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
    assert case["next_internal_review_on"] == review_on
    await run_once("reminders", scan_at)
    kinds = {r["kind"] for r in await Outbox.select(Outbox.kind).where(Outbox.case == case["id"])}
    assert "review_upcoming" in kinds


async def test_admin_outbox_lists_and_retries_failed_messages(client, world, scene):
    from conftest import log_in

    await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
    row = await Outbox.select(Outbox.id).where(Outbox.case == scene["case"]["id"]).first()
    await Outbox.update({Outbox.status: "failed", Outbox.attempts: 8}).where(Outbox.id == row["id"])
    await log_in(client, await world.admin())
    page = await client.get("/admin/outbox?status=failed")
    assert page.status_code == 200 and "Retry" in page.text
    assert await outbox.retry(row["id"])
    again = (
        await Outbox.select(Outbox.status, Outbox.attempts).where(Outbox.id == row["id"]).first()
    )
    assert again == {"status": "pending", "attempts": 0}


async def test_a_month_of_reminders_in_seconds_each_once(scene, smtp):
    """Scan and deliver every quarter of an hour's worth of days for a month: every
    reminder arrives once, on its day."""
    start = dt.datetime(2026, 5, 4, 6, tzinfo=dt.UTC)
    for day in range(31):
        for hour in (6, 18):  # two runs a day, as a restarted worker might do
            now = start + dt.timedelta(days=day, hours=hour - 6)
            await run_once("reminders", now)
            await run_once("deliver", now)
    ours = [
        m for m in smtp.messages if m["To"] in (scene["manager"]["email"], scene["lead"]["email"])
    ]
    keys = [m["Subject"] + "|" + m["To"] for m in ours]
    assert len(keys) == len(set(keys))
    subjects = " ".join(m["Subject"] for m in ours)
    for expected in (
        "Review on 18 May",
        "Due 20 May",
        "Overdue since 1 May",
        "Two weeks overdue",
        "Not recorded",
    ):
        assert expected in subjects, expected


async def test_one_bad_row_is_logged_and_skipped(scene, monkeypatch):
    real = outbox.enqueue
    calls = {"n": 0}

    async def flaky(reminder, user):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a broken row")
        return await real(reminder, user)

    monkeypatch.setattr(outbox, "enqueue", flaky)
    result = await run_once("reminders", dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC))
    assert result["errors"] == 1 and result["written"] >= 1


async def test_digests_can_be_turned_off_in_the_profile(client, world):
    from conftest import csrf_token, log_in

    from improve.accounts.tables import User

    watcher = await world.user(await world.org(OrgKind.COMMISSIONER), Role.COMMISSIONER)
    await log_in(client, watcher)
    token = await csrf_token(client)
    response = await client.post(
        "/profile/digests", data={"_csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    row = await User.select(User.digests_enabled).where(User.id == watcher["id"]).first()
    assert row["digests_enabled"] is False
    page = await client.get("/profile")
    assert 'id="f-digests"' in page.text and "always come" in page.text


async def test_an_action_due_soon_with_nobody_to_do_it_goes_to_the_manager_once(world):
    from improve.accounts import people

    assert (
        rules.action_needs_owner(
            action_id=9,
            case_id=1,
            title="Fix",
            due_on=dt.date(2026, 5, 30),
            managers=[5],
            today=dt.date(2026, 5, 15),
            days_before=7,
        )
        == []
    )  # not due soon yet
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Mo Manager")
    leaver = await world.user(provider, Role.REGISTERED_MANAGER, name="Lou Leaver")
    lead = await world.user(provider, Role.QUALITY_LEAD, name="Lee Lead")
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        await plans.commit(
            me,
            case["id"],
            [],
            [
                {"title": "Unowned", "theme": "staffing", "due_on": "2026-05-20"},
                {
                    "title": "Leaver's",
                    "theme": "staffing",
                    "due_on": "2026-05-19",
                    "owner": leaver["id"],
                },
                {
                    "title": "Manager's",
                    "theme": "staffing",
                    "due_on": "2026-05-20",
                    "owner": manager["id"],
                },
            ],
        )
    await people.update_user(leaver["id"], name=leaver["name"], role=leaver["role"], active=False)
    now = dt.datetime(2026, 5, 16, 7, tzinfo=dt.UTC)
    await run_once("reminders", now)
    again = await run_once("reminders", now)
    assert again["written"] == 0
    rows = [r for r in await _mine(case["id"]) if r["kind"].startswith("action_")]
    assert sorted((r["kind"], r["email"]) for r in rows) == [
        ("action_due_soon", manager["email"]),
        ("action_needs_owner", manager["email"]),
        ("action_needs_owner", manager["email"]),
    ]
    subjects = await Outbox.select(Outbox.subject).where(
        (Outbox.case == case["id"]) & (Outbox.kind == "action_needs_owner")
    )
    assert sorted(s["subject"] for s in subjects) == [
        "No owner, due 19 May 2026: Leaver's",
        "No owner, due 20 May 2026: Unowned",
    ]
    # the manager leaves too: the quality lead hears of all three, once
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    await run_once("reminders", now + dt.timedelta(days=1))
    await run_once("reminders", now + dt.timedelta(days=1))
    to_lead = [
        r
        for r in await _mine(case["id"])
        if r["kind"] == "action_needs_owner" and r["email"] == lead["email"]
    ]
    assert len(to_lead) == 3


async def test_the_digest_says_when_a_homes_manager_has_left(world):
    from improve.accounts import people

    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, manager, name="Leaver House")
    me = viewer_of(manager)
    with clock.frozen(OPENED):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        await cases.open_case(me, service["id"])
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    await run_once("digests", dt.datetime(2026, 5, 25, 6, tzinfo=dt.UTC))
    row = (
        await Outbox.select(Outbox.text_body, Outbox.html_body)
        .where((Outbox.kind == "digest") & (Outbox.email == lead["email"]))
        .first()
    )
    assert "The registered manager has left: the service needs a new one." in row["text_body"]
    assert "Manager has left" in row["html_body"]
