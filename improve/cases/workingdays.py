"""Working days in England, for deadlines counted in them.

A **working day** is a day that is not a Saturday, a Sunday or a bank holiday in England.
England's bank holidays come from the maintained `holidays` package
(``holidays.country_holidays("GB", subdiv="ENG")``), never from a list typed here: that
includes substitute days (Christmas Day on a Sunday is made up on the 27th) and one-off
holidays (the Platinum Jubilee on 3 June 2022, the State Funeral on 19 September 2022).
A bank holiday announced after the installed release of `holidays` is known once the
package is upgraded.

**"n working days from receipt"** (or from service of a notice): the day of receipt is
never counted, whatever day it is; counting starts on the next day, and each working day
counts one. The deadline is the n-th working day after the day of receipt. So a draft
report received on Friday 1 May 2026 has its 1st working day on Tuesday 5 May (Monday
4 May is the early May bank holiday), and its 10th on Monday 18 May. A report received on
a Saturday is counted from the Monday the same way, the Saturday itself never counting.

Pure functions of dates: no clock, no database.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def bank_holiday_name(day: dt.date) -> str:
    """The bank holiday in England on this day, or "" when there is none."""
    names = holidays.country_holidays("GB", subdiv="ENG", years=day.year)
    return names.get(day, "")


def is_working_day(day: dt.date) -> bool:
    """Not a Saturday, a Sunday or a bank holiday in England."""
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: dt.date, n: int) -> dt.date:
    """The n-th working day after ``start`` (``start`` itself is never counted).

    ``add_working_days(received_on, 10)`` is the last day of a 10-working-day period from
    receipt. ``n == 0`` gives ``start`` back; a negative ``n`` is refused."""
    if n < 0:
        raise ValueError("n must be 0 or more working days")
    day = start
    while n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def working_days_between(a: dt.date, b: dt.date) -> int:
    """How many working days fall after ``a`` up to and including ``b``: the days counted
    from ``a`` as above, so ``working_days_between(a, add_working_days(a, n)) == n``.
    Negative when ``b`` is before ``a`` (the count from ``b`` to ``a``, negated)."""
    if b < a:
        return -working_days_between(b, a)
    count = 0
    day = a
    while day < b:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
