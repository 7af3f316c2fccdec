"""Domain errors. Both faces (pages and API) turn them into clear answers."""

from __future__ import annotations

import datetime as dt
from typing import Any


class DomainError(Exception):
    status_code = 400


class Invalid(DomainError):
    """Bad input: which field, and what is wrong with it."""

    status_code = 422

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


class FieldForbidden(Invalid):
    """A field the viewer may see but not set (only an administrator may): 403, naming it."""

    status_code = 403


class TooMany(Invalid):
    """Too many attempts at a field (a wrong current password): try again later."""

    status_code = 429

    def __init__(self, errors: dict[str, str], retry_after: int) -> None:
        super().__init__(errors)
        self.retry_after = retry_after  # seconds, for the Retry-After header


class Busy(DomainError):
    """The service cannot take this work now (every password hashing slot is taken)."""

    status_code = 503

    def __init__(self, why: str, retry_after: int) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class NotFound(DomainError):
    """Missing, or outside the viewer's scope: the two look the same on purpose."""

    status_code = 404

    def __init__(self, what: str = "Not found") -> None:
        super().__init__(what)


class Forbidden(DomainError):
    """Visible to the viewer but not theirs to change."""

    status_code = 403

    def __init__(self, why: str = "You cannot change this") -> None:
        super().__init__(why)


class Conflict(DomainError):
    status_code = 409


# Every date people enter falls in this range: wide enough for any real rating, plan or
# review, and far enough from the calendar's ends (9999-12-31) that a date worked out from
# it (a day later, months later) always exists.
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
DATE_RANGE = f"from {EARLIEST.isoformat()} to {LATEST.isoformat()}"


def check_date_range(day: dt.date, field: str) -> dt.date:
    """The day, or Invalid naming the field and the range accepted."""
    if not EARLIEST <= day <= LATEST:
        raise Invalid({field: f"must be a date {DATE_RANGE}"})
    return day


def parse_date(value: Any, field: str) -> dt.date | None:
    """A date from a form or JSON value ("" and None are no date) between EARLIEST and
    LATEST, or Invalid naming the field (and the range)."""
    if value in (None, ""):
        return None
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value))
        except ValueError:
            raise Invalid({field: "must be a date (YYYY-MM-DD)"}) from None
    return check_date_range(value, field)
