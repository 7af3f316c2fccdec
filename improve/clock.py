"""The one clock. Domain code asks it for the time so tests can set the time.

A stopped clock is local to the task that stopped it (a context variable), and to the
tasks that task starts: a job that stops the clock at its run time inside the web
process changes the time for that job alone, never for the requests served beside it
or for another job running at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

from improve.settings import get_settings

_frozen: ContextVar[datetime | None] = ContextVar("improve_clock_frozen", default=None)


def now() -> datetime:
    """The current time, timezone-aware, in UTC (stored times are always UTC)."""
    frozen_at = _frozen.get()
    return frozen_at if frozen_at is not None else datetime.now(UTC)


def wall() -> datetime:
    """The real time, never stopped: for what processes agree on between themselves (how
    long a sender's claim on an email lasts), not for what the domain's dates mean."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date where the service's users are (IMPROVE_TIMEZONE)."""
    return now().astimezone(get_settings().tz).date()


def local(moment: datetime) -> datetime:
    return moment.astimezone(get_settings().tz)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Stop the clock at ``at`` (which must be timezone-aware) for the block, in this
    task and the tasks it starts."""
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    token = _frozen.set(at.astimezone(UTC))
    try:
        yield
    finally:
        _frozen.reset(token)
