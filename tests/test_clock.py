"""The clock a job stops is its own: requests served beside it, and another job running
at once, keep their own time, and nothing is left stopped when the jobs end."""

from __future__ import annotations

import asyncio
import datetime as dt

from icalendar import Calendar

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.reminders import calendar, outbox
from improve.reminders.rules import Reminder
from improve.settings import get_settings, override, use
from jobs import run_once

SCAN_AT = dt.datetime(2020, 1, 6, 8, tzinfo=dt.UTC)
DELIVER_AT = dt.datetime(2021, 3, 1, 8, tzinfo=dt.UTC)


def _close_to_real(moment: dt.datetime) -> bool:
    return abs(moment - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


async def test_two_stopped_clocks_overlapping_in_any_order_leave_real_time():
    """The pattern that left the web process stuck in the past: one job stops the clock,
    a second stops it too, the first ends, then the second."""
    first_in, second_in, first_out = asyncio.Event(), asyncio.Event(), asyncio.Event()
    seen: dict[str, dt.datetime] = {}

    async def first() -> None:
        with clock.frozen(DELIVER_AT):
            first_in.set()
            await second_in.wait()
            seen["first, with the second running"] = clock.now()
        first_out.set()

    async def second() -> None:
        await first_in.wait()
        with clock.frozen(SCAN_AT):
            second_in.set()
            await first_out.wait()
            seen["second, after the first ended"] = clock.now()

    async def beside() -> None:
        await second_in.wait()
        seen["a request beside them"] = clock.now()

    await asyncio.gather(first(), second(), beside())
    assert seen["first, with the second running"] == DELIVER_AT
    assert seen["second, after the first ended"] == SCAN_AT
    assert _close_to_real(seen["a request beside them"])
    assert _close_to_real(clock.now())


async def test_requests_beside_two_running_jobs_see_real_time(world, client, smtp):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    for n in range(8):  # mail for the sender to work through, one pause after each
        await outbox.enqueue(
            Reminder(
                kind="action_overdue",
                dedupe_key=f"clock-test:{manager['id']}:{n}",
                user_id=manager["id"],
                case_id=None,
                subject_of=f"Action {n}",
                on=dt.date(2021, 2, 1),
                link="/my-actions",
            ),
            manager,
        )
    saved = get_settings()
    override(mail_pause_seconds=0.02)
    token = await calendar.feed_token_for(manager["id"])
    stamps: list[dt.datetime] = []
    try:
        jobs = asyncio.gather(run_once("deliver", DELIVER_AT), run_once("reminders", SCAN_AT))
        while not jobs.done():
            feed = await client.get(f"/calendar/{token}.ics")
            assert feed.status_code == 200
            for event in Calendar.from_ical(feed.text).walk("VEVENT"):
                stamps.append(event.decoded("dtstamp"))
            stamps.append(clock.now())
            await asyncio.sleep(0)
        delivered, _ = await jobs
    finally:
        use(saved)
    assert delivered["sent"] >= 1  # the sender really ran beside the requests
    assert stamps and all(_close_to_real(s) for s in stamps)
    assert _close_to_real(clock.now())
