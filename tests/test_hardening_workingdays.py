"""Working days in England and the CQC periods counted in them.

"n working days from receipt": the day of receipt is not counted; Saturdays, Sundays and
England's bank holidays are skipped. The bank holidays come from the `holidays` package:
the 2022 one-offs and the moved spring bank holiday prove it is the library, not a list.
The periods are those of shared/domain.md ("After an Inadequate rating"): factual
accuracy 10 working days from receiving the draft report; representations against a
warning notice 10 working days; against a notice of proposal 28 days.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from improve.cases import deadlines, workingdays
from improve.cases.deadlines import (
    factual_accuracy_due,
    notice_of_proposal_representations_due,
    warning_notice_representations_due,
)
from improve.cases.workingdays import add_working_days, is_working_day, working_days_between

D = dt.date


def test_the_day_of_receipt_is_not_counted_and_weekends_are_skipped():
    # received Monday 9 March 2026 (no bank holiday near): Tuesday is day 1, and ten
    # working days end on Monday 23 March, two weekends later
    assert add_working_days(D(2026, 3, 9), 1) == D(2026, 3, 10)
    assert add_working_days(D(2026, 3, 9), 10) == D(2026, 3, 23)
    # received on a Saturday: the Saturday does not count, nor does the Sunday
    assert add_working_days(D(2026, 3, 14), 1) == D(2026, 3, 16)
    # received on a Friday: the weekend is skipped
    assert add_working_days(D(2026, 3, 13), 1) == D(2026, 3, 16)
    assert add_working_days(D(2026, 3, 9), 0) == D(2026, 3, 9)
    with pytest.raises(ValueError):
        add_working_days(D(2026, 3, 9), -1)


def test_christmas_and_new_year_are_skipped_with_their_substitute_days():
    # 2026: Christmas Friday 25, Boxing Day Saturday 26 made up on Monday 28, New Year
    # Friday 1 January 2027
    for day in (D(2026, 12, 25), D(2026, 12, 28), D(2027, 1, 1)):
        assert not is_working_day(day), day
    assert add_working_days(D(2026, 12, 18), 10) == D(2027, 1, 6)
    assert add_working_days(D(2026, 12, 24), 1) == D(2026, 12, 29)
    # 2022: Christmas on a Sunday made up on Tuesday 27 (Boxing Day Monday 26)
    assert add_working_days(D(2022, 12, 23), 1) == D(2022, 12, 28)


def test_easter_good_friday_and_easter_monday_are_skipped():
    # Easter 2027: Good Friday 26 March, Easter Monday 29 March
    assert not is_working_day(D(2027, 3, 26)) and not is_working_day(D(2027, 3, 29))
    assert add_working_days(D(2027, 3, 25), 1) == D(2027, 3, 30)
    assert add_working_days(D(2027, 3, 25), 10) == D(2027, 4, 12)
    # Easter 2026 falls at a different date: Good Friday 3 April, Easter Monday 6 April
    assert add_working_days(D(2026, 4, 2), 1) == D(2026, 4, 7)


def test_the_early_may_bank_holiday_is_skipped():
    # Monday 4 May 2026
    assert add_working_days(D(2026, 5, 1), 1) == D(2026, 5, 5)
    assert add_working_days(D(2026, 5, 1), 10) == D(2026, 5, 18)
    # 2020: the early May bank holiday moved to Friday 8 May for VE day; Monday 4 May
    # 2020 was an ordinary working day
    assert is_working_day(D(2020, 5, 4)) and not is_working_day(D(2020, 5, 8))


def test_the_late_august_bank_holiday_is_skipped():
    # Monday 31 August 2026
    assert add_working_days(D(2026, 8, 28), 1) == D(2026, 9, 1)
    assert add_working_days(D(2026, 8, 28), 10) == D(2026, 9, 14)


def test_the_2022_one_off_bank_holidays_come_from_the_library():
    """Nobody typed these: Thursday 2 June 2022 (the spring bank holiday, moved), Friday
    3 June 2022 (the Platinum Jubilee) and Monday 19 September 2022 (the State Funeral);
    and Monday 30 May 2022, the usual last Monday of May, was an ordinary working day."""
    for day in (D(2022, 6, 2), D(2022, 6, 3), D(2022, 9, 19)):
        assert not is_working_day(day), day
        assert workingdays.bank_holiday_name(day)
    assert is_working_day(D(2022, 5, 30))
    assert add_working_days(D(2022, 5, 27), 10) == D(2022, 6, 14)
    assert add_working_days(D(2022, 9, 16), 1) == D(2022, 9, 20)
    assert add_working_days(D(2022, 9, 16), 10) == D(2022, 10, 3)


def test_no_holiday_list_is_typed_in_the_code():
    source = Path(workingdays.__file__).read_text()
    assert 'country_holidays("GB", subdiv="ENG"' in source
    assert "2022, 6, 3" not in source and "12, 25" not in source


def test_working_days_between_counts_what_add_working_days_adds():
    start = D(2026, 12, 18)
    for n in range(0, 30):
        assert working_days_between(start, add_working_days(start, n)) == n
    # Christmas week 2026: after Thursday 24 up to Tuesday 29 only the 29th counts
    assert working_days_between(D(2026, 12, 24), D(2026, 12, 29)) == 1
    assert working_days_between(D(2026, 12, 29), D(2026, 12, 24)) == -1
    assert working_days_between(D(2026, 3, 9), D(2026, 3, 9)) == 0


def test_factual_accuracy_comments_are_due_ten_working_days_from_receipt():
    assert deadlines.FACTUAL_ACCURACY_WORKING_DAYS == 10
    # draft received Thursday 24 December 2026: Christmas, Boxing Day (observed) and New
    # Year skipped
    assert factual_accuracy_due(D(2026, 12, 24)) == D(2027, 1, 12)
    # draft received before Easter 2027
    assert factual_accuracy_due(D(2027, 3, 25)) == D(2027, 4, 12)


def test_warning_notice_representations_are_due_ten_working_days_from_service():
    assert deadlines.WARNING_NOTICE_REPRESENTATIONS_WORKING_DAYS == 10
    # served Friday 1 May 2026: the early May bank holiday is skipped
    assert warning_notice_representations_due(D(2026, 5, 1)) == D(2026, 5, 18)
    # served Friday 28 August 2026: the late August bank holiday is skipped
    assert warning_notice_representations_due(D(2026, 8, 28)) == D(2026, 9, 14)


def test_notice_of_proposal_representations_are_due_in_28_calendar_days():
    assert deadlines.NOTICE_OF_PROPOSAL_REPRESENTATIONS_DAYS == 28
    assert notice_of_proposal_representations_due(D(2026, 5, 1)) == D(2026, 5, 29)
    # calendar days: Christmas and New Year count like any other day
    assert notice_of_proposal_representations_due(D(2026, 12, 18)) == D(2027, 1, 15)
