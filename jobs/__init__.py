"""Scheduled jobs, registered in code. Each is a small async function that reads what is
due from the domain rows and returns a summary of what it did.

Per-case schedules live on the rows (next review dates, due dates), never in
APScheduler's job store: its documentation says a job store must not be shared between
schedulers, and several app instances may each run one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("improve.jobs")

# the job runs in progress in this process, so a stopping process can wait for them
_running: set[asyncio.Task] = set()

Job = Callable[[dt.datetime | None], Awaitable[dict[str, Any]]]


def registry() -> dict[str, tuple[Job, dict[str, Any]]]:
    """Job name -> (function, APScheduler trigger arguments)."""
    from improve.reminders.digests import send_weekly
    from jobs.deliver import deliver
    from jobs.reminders import scan

    return {
        "reminders": (scan, {"trigger": "interval", "minutes": 15}),
        "deliver": (deliver, {"trigger": "interval", "minutes": 1}),
        # Monday morning where the users are (IMPROVE_TIMEZONE)
        "digests": (send_weekly, {"trigger": "cron", "day_of_week": "mon", "hour": 7}),
    }


async def run_once(name: str, now: dt.datetime | None = None) -> dict[str, Any]:
    jobs = registry()
    if name not in jobs:
        raise KeyError(f"no job named {name!r}; jobs: {', '.join(jobs)}")
    result = await jobs[name][0](now)
    log.info("job %s: %s", name, result)
    return result


def build_scheduler():
    """An AsyncIOScheduler with every job: one instance of each at a time, missed runs
    coalesced into one. The interval jobs (reminders, delivery) first run as it starts:
    a worker restarted after an outage sends what waited at once, not a minute later."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from improve.reminders import outbox
    from improve.settings import get_settings

    outbox.resume_sending()
    scheduler = AsyncIOScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )
    for name, (_, trigger) in registry().items():
        options = dict(trigger)
        if options["trigger"] == "cron":
            options["timezone"] = get_settings().tz
        else:
            options["next_run_time"] = dt.datetime.now(dt.UTC)
        scheduler.add_job(_logged, args=[name], id=name, replace_existing=True, **options)
    return scheduler


async def stop(scheduler: Any) -> None:
    """Stop the jobs as a process ends (SIGTERM): no new runs; a delivery run finishes the
    email it is sending and takes no other; runs still going after the mail server's
    time-out are cancelled (an email cancelled mid-send is handed back, pending)."""
    from improve.reminders import outbox
    from improve.settings import get_settings

    scheduler.pause()
    outbox.stop_sending()
    running = [task for task in _running if not task.done()]
    if running:
        grace = get_settings().smtp_timeout_seconds + 5
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=5)
    scheduler.shutdown(wait=False)
    outbox.resume_sending()  # the runs are over; a later run in this process may send


async def _logged(name: str) -> None:
    task = asyncio.current_task()
    if task is not None:
        _running.add(task)
    try:
        await run_once(name)
    except asyncio.CancelledError:  # the process is stopping; what it held is given back
        log.info("job %s: stopped mid-run", name)
    except Exception:  # a failing run is logged; the next run tries again
        log.exception("job %s failed", name)
    finally:
        _running.discard(task)
