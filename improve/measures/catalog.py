"""The built-in measures a turnaround usually tracks, with the national figures
(Skills for Care) where there is one. Organisations add their own (MeasureDefinition).

The keys are the ones a playbook action's ``measure`` may name; playbooks.py reads
them from here so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    key: str
    name: str
    unit: str  # shown after the figure: "%", "days", "" for counts
    better: str  # "up" or "down": which way is an improvement
    how: str  # how to count it, so every home counts the same way
    national: float | None = None  # the national figure to show beside a home's own
    national_note: str = ""
    service_types: tuple[str, ...] = ()  # empty: every type of service
    custom: bool = False


BUILT_IN: tuple[Measure, ...] = (
    Measure(
        "staff_turnover", "Staff turnover", "%", "down",
        "Leavers in the last 12 months as a share of average staff in post.",
        24.7, "Independent sector, 2024/25 (Skills for Care)",
    ),
    Measure(
        "vacancy_rate", "Vacancy rate", "%", "down",
        "Vacant posts as a share of all posts at the end of the month.",
        7.0, "Adult social care, 2024/25 (Skills for Care)",
    ),
    Measure(
        "sickness_days", "Sickness", "days per worker", "down",
        "Days lost to sickness in the last 12 months per worker.",
        4.8, "Per worker per year, 2018/19, latest published (Skills for Care)",
    ),
    Measure(
        "agency_hours_share", "Agency share of hours", "%", "down",
        "Care hours worked by agency staff as a share of all care hours this month.",
    ),
    Measure(
        "training_completion", "Mandatory training completed", "%", "up",
        "Staff up to date with mandatory training.",
    ),
    Measure(
        "care_certificate_completion", "Care Certificate completed", "%", "up",
        "New care staff who completed the Care Certificate within 12 weeks.",
    ),
    Measure(
        "supervision_completed", "Supervision completed", "%", "up",
        "Staff who had the supervision due this month.",
    ),
    Measure(
        "care_plans_reviewed_on_time", "Care plans reviewed on time", "%", "up",
        "Care plans reviewed by their due date this month.",
    ),
    Measure(
        "missed_late_calls", "Missed or late calls", "%", "down",
        "Visits missed or more than 30 minutes late, as a share of all visits.",
        service_types=("home_care", "supported_living"),
    ),
    Measure("incidents", "Incidents", "", "down", "Incidents recorded this month."),
    Measure("falls", "Falls", "", "down", "Falls this month, with or without injury."),
    Measure(
        "medication_errors", "Medication errors", "", "down",
        "Medication errors and omissions found this month.",
    ),
    Measure(
        "safeguarding_concerns", "Safeguarding concerns", "", "down",
        "Safeguarding concerns raised with the council this month.",
    ),
    Measure("complaints", "Complaints", "", "down", "Complaints received this month."),
    Measure(
        "audit_score", "Audit score", "%", "up",
        "The score of the service's own monthly quality audit.",
    ),
    Measure(
        "actions_closed_on_time", "Actions closed on time", "%", "up",
        "Plan actions finished by their due date, of those due this month.",
    ),
)  # fmt: skip

BY_KEY = {m.key: m for m in BUILT_IN}
KEYS = tuple(BY_KEY)


def custom(row: dict) -> Measure:
    """A Measure from an organisation's MeasureDefinition row."""
    return Measure(
        key=row["key"],
        name=row["name"],
        unit=row["unit"],
        better=row["better"],
        how=row["description"],
        custom=True,
    )


def applies_to(measure: Measure, service_type: str) -> bool:
    return not measure.service_types or service_type in measure.service_types
