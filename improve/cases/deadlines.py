"""The dates that run once a rating is published, with countdowns.

Pure functions: given the opening rating's facts, the case's own dates and today,
they return the timeline. The intervals are CQC's usual practice, marked (check) in
domain.md where sources disagree; they are constants here and shown in the UI.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from improve.cases.workingdays import add_working_days

# CQC no longer promises fixed intervals; 6 months is the default, editable per case.
REINSPECTION_MONTHS = 6
# Providers commonly report their plan within 28 days of a requirement notice (check).
ACTION_PLAN_DAYS = 28
# Special measures normally last no more than 12 months in all.
SPECIAL_MEASURES_MONTHS = 12
# After the rating recovers, keep watching (improvement often fades): how many months is
# the IMPROVE_SUSTAIN_MONTHS setting, 12 by default.

ASSUMPTIONS = (
    f"Expected re-inspection defaults to {REINSPECTION_MONTHS} months after publication "
    "(CQC no longer promises fixed intervals; change it on the case).",
    f"The action plan is due {ACTION_PLAN_DAYS} days after publication (common practice "
    "for requirement notices; check your letter from CQC).",
    f"Special measures normally last no more than {SPECIAL_MEASURES_MONTHS} months.",
)


# Periods for answering CQC, as the domain facts (shared/domain.md) state them ("After an Inadequate
# rating": "Factual accuracy check" and "Enforcement"). Working days are England's
# (improve.cases.workingdays: no weekends, no bank holidays, the day of receipt not counted).
FACTUAL_ACCURACY_WORKING_DAYS = 10  # from receiving the draft report, to challenge facts
WARNING_NOTICE_REPRESENTATIONS_WORKING_DAYS = 10  # representations; there is no appeal
NOTICE_OF_PROPOSAL_REPRESENTATIONS_DAYS = 28  # calendar days, to suspend or cancel


def factual_accuracy_due(received_on: dt.date) -> dt.date:
    """The last day to challenge the facts of a draft report: 10 working days from
    receiving it (domain.md, "Factual accuracy check"), the day of receipt not counted."""
    return add_working_days(received_on, FACTUAL_ACCURACY_WORKING_DAYS)


def warning_notice_representations_due(served_on: dt.date) -> dt.date:
    """The last day for representations against a warning notice: 10 working days
    (domain.md, "Enforcement": "representations within 10 working days; no appeal"),
    counted from the day after it was served."""
    return add_working_days(served_on, WARNING_NOTICE_REPRESENTATIONS_WORKING_DAYS)


def notice_of_proposal_representations_due(served_on: dt.date) -> dt.date:
    """The last day for representations against a notice of proposal (to suspend or
    cancel): 28 days (domain.md, "Enforcement": "representations within 28 days"). These
    are calendar days, not working days: the 28th day after service, whatever day it is."""
    return served_on + dt.timedelta(days=NOTICE_OF_PROPOSAL_REPRESENTATIONS_DAYS)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)
    and to the calendar's ends (a date stored near 9999-12-31 still has a timeline)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        return dt.date.max if months > 0 else dt.date.min
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def add_days(day: dt.date, days: int) -> dt.date:
    """``day`` plus ``days``, clamped to the calendar's ends instead of overflowing."""
    ordinal = day.toordinal() + days
    return dt.date.fromordinal(min(max(ordinal, 1), dt.date.max.toordinal()))


@dataclass(frozen=True)
class Milestone:
    key: str
    label: str
    on: dt.date
    days_left: int  # negative when passed
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.days_left < 0

    @property
    def countdown(self) -> str:
        d = self.days_left
        if d == 0:
            return "today"
        if d > 0:
            return f"in {d} day{'s' if d != 1 else ''}"
        return f"{-d} day{'s' if d != -1 else ''} ago"


@dataclass(frozen=True)
class WarningNotice:
    regulation: str
    compliance_due_on: dt.date


def default_dates(published_on: dt.date, overall_inadequate: bool) -> dict[str, dt.date | None]:
    """The dates a new case starts with."""
    return {
        "action_plan_due_on": add_days(published_on, ACTION_PLAN_DAYS),
        "expected_reinspection_on": add_months(published_on, REINSPECTION_MONTHS),
    }


def timeline(
    *,
    today: dt.date,
    published_on: dt.date | None,
    special_measures_entered: bool,
    action_plan_due_on: dt.date | None,
    expected_reinspection_on: dt.date | None,
    warning_notices: list[WarningNotice],
    reviews: list[tuple[str, dt.date]] = (),  # type: ignore[assignment]
    sustain_until: dt.date | None = None,
    special_measures_since: dt.date | None = None,
) -> list[Milestone]:
    """Every key date of a case, in date order. While the service is in special measures
    (``special_measures_entered``), their start (``special_measures_since``, else the
    report's publication) and their usual end 12 months later are on it."""
    items: list[tuple[str, str, dt.date, str]] = []
    if published_on:
        items.append(("published", "Report published", published_on, ""))
    entered_on = special_measures_since or published_on
    if special_measures_entered and entered_on:
        items.append(
            (
                "special_measures",
                "Special measures entered",
                entered_on,
                "The provider must tell the people who use the service.",
            )
        )
        items.append(
            (
                "special_measures_limit",
                "Special measures period normally ends",
                add_months(entered_on, SPECIAL_MEASURES_MONTHS),
                "If any key question is still Inadequate, CQC moves to cancel or "
                "restrict registration.",
            )
        )
    if action_plan_due_on:
        items.append(("action_plan_due", "Action plan due to CQC", action_plan_due_on, ""))
    for notice in warning_notices:
        reg = f" (regulation {notice.regulation})" if notice.regulation else ""
        items.append(
            ("warning_notice", f"Warning notice compliance date{reg}", notice.compliance_due_on, "")
        )
    if expected_reinspection_on:
        items.append(
            (
                "reinspection",
                "Expected re-inspection",
                expected_reinspection_on,
                "A default, not a promise: CQC sets no fixed interval.",
            )
        )
    for label, on in reviews:
        items.append(("review", label, on, ""))
    if sustain_until:
        items.append(("sustain_until", "Watching ends", sustain_until, ""))
    items.sort(key=lambda i: (i[2], i[0]))
    return [Milestone(k, label, on, (on - today).days, note) for k, label, on, note in items]


def next_due(milestones: list[Milestone]) -> Milestone | None:
    upcoming = [m for m in milestones if not m.passed and m.key != "published"]
    return upcoming[0] if upcoming else None
