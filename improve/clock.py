"""The one clock. Domain code asks it for the time so tests can set the time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from improve.settings import get_settings

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware, in UTC (stored times are always UTC)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today() -> date:
    """Today's date where the service's users are (IMPROVE_TIMEZONE)."""
    return now().astimezone(get_settings().tz).date()


def local(moment: datetime) -> datetime:
    return moment.astimezone(get_settings().tz)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Stop the clock at ``at`` (which must be timezone-aware) for the block."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen() needs a timezone-aware datetime")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous
