"""Measures of a service: entering figures by form or CSV, reading series, run charts,
and whether a verified action moved the measure it names.

Who may write: anyone who may edit the service (providers). Commissioners read.
A CSV is all or nothing: every bad row is listed with its line and reason, and nothing
is written (nor the file kept) unless every row is valid.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from improve import access, clock, history
from improve.access import Viewer
from improve.accounts.tables import Role
from improve.db import write_tx
from improve.errors import Forbidden, Invalid, NotFound
from improve.measures import catalog, runchart, summaries
from improve.measures.catalog import Measure
from improve.measures.tables import MeasureDefinition, MeasureUpload, MeasureValue
from improve.services.tables import Service
from improve.settings import get_settings
from improve.words import counted

MAX_CSV_ROWS = 20_000
_KEY = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")
CSV_HEADER = ("service", "month", "measure", "value")


# --- the measures a service has ------------------------------------------------------


async def definitions_of(organisation_ids: set[int]) -> dict[int, list[Measure]]:
    """Custom measures per organisation, in one query."""
    out: dict[int, list[Measure]] = defaultdict(list)
    if not organisation_ids:
        return out
    rows = (
        await MeasureDefinition.select()
        .where(MeasureDefinition.organisation.is_in(list(organisation_ids)))
        .order_by(MeasureDefinition.name)
    )
    for row in rows:
        out[row["organisation"]].append(catalog.custom(row))
    return out


def measures_for(service_type: str, custom: list[Measure]) -> list[Measure]:
    return [m for m in catalog.BUILT_IN if catalog.applies_to(m, service_type)] + list(custom)


async def define(viewer: Viewer, data: dict[str, Any]) -> dict[str, Any]:
    """An organisation's own measure (quality leads and admins of a provider)."""
    if viewer.role != Role.QUALITY_LEAD:
        raise Forbidden("Only a provider's quality lead can define measures")
    key = str(data.get("key") or "").strip().lower()
    name = str(data.get("name") or "").strip()
    better = str(data.get("better") or "").strip()
    errors = {}
    if not _KEY.match(key):
        errors["key"] = "use 2-40 lower-case letters, digits or _, starting with a letter"
    elif key in catalog.BY_KEY:
        errors["key"] = "is a built-in measure already"
    if not name or len(name) > 120:
        errors["name"] = "is required (at most 120 characters)"
    if better not in ("up", "down"):
        errors["better"] = "must be up or down"
    unit = str(data.get("unit") or "").strip()
    if len(unit) > 30:
        errors["unit"] = "at most 30 characters"
    if errors:
        raise Invalid(errors)
    async with write_tx():
        exists = await MeasureDefinition.exists().where(
            (MeasureDefinition.organisation == viewer.organisation_id)
            & (MeasureDefinition.key == key)
        )
        if exists:
            raise Invalid({"key": "your organisation already has a measure with this key"})
        rows = await MeasureDefinition.insert(
            MeasureDefinition(
                organisation=viewer.organisation_id,
                key=key,
                name=name,
                unit=unit,
                better=better,
                description=str(data.get("description") or "").strip()[:2000],
                created_at=clock.now(),
            )
        ).returning(*MeasureDefinition.all_columns())
    return rows[0]


# --- values ---------------------------------------------------------------------------


def parse_month(value: Any) -> dt.date:
    """ "2026-03" or "2026-03-01" to the first of that month."""
    if isinstance(value, dt.date):
        return value.replace(day=1)
    m = _MONTH.match(str(value or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError("month must look like 2026-03")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def check_value(measure: Measure, raw: Any) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ValueError("value must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError("value must be zero or more")
    if measure.unit == "%" and value > 100:
        raise ValueError("a percentage cannot be over 100")
    return value


def check_month(month: dt.date) -> None:
    today = clock.today()
    if month > today.replace(day=1):
        raise ValueError("month is in the future")
    if month.year < today.year - 10:
        raise ValueError("month is more than 10 years ago")


async def record(
    viewer: Viewer, service_id: int, measure_key: str, month: Any, value: Any
) -> dict[str, Any]:
    """One figure from the form; entering the same month again replaces it."""
    service = await access.editable_service(
        viewer, service_id, Service.id, Service.provider, Service.service_type
    )
    custom = (await definitions_of({service["provider"]}))[service["provider"]]
    known = {m.key: m for m in measures_for(service["service_type"], custom)}
    errors: dict[str, str] = {}
    measure = known.get(str(measure_key))
    if measure is None:
        errors["measure"] = "is not a measure of this service"
    try:
        first = parse_month(month)
        check_month(first)
    except ValueError as e:
        errors["month"] = str(e).removeprefix("month ")
    if measure is not None:
        try:
            figure = check_value(measure, value)
        except ValueError as e:
            errors["value"] = str(e).removeprefix("value ")
    if errors:
        raise Invalid(errors)
    async with write_tx():
        await _upsert([(service_id, measure.key, first, figure)], viewer, "form")
        await history.record(
            actor=viewer,
            service_id=service_id,
            case_id=None,
            entity="measure",
            entity_id=None,
            action="recorded",
            summary=f"{measure.name} for {first:%B %Y}: {_fmt(figure)}{_unit(measure)}",
        )
    return {"measure": measure.key, "month": first, "value": figure}


async def _upsert(rows: list[tuple[int, str, dt.date, float]], viewer: Viewer, source: str):
    now = clock.now()
    for start in range(0, len(rows), 500):  # bounded statements, few round trips
        chunk = rows[start : start + 500]
        await MeasureValue.insert(
            *[
                MeasureValue(
                    service=s,
                    measure=k,
                    month=m,
                    value=v,
                    source=source,
                    entered_by=viewer.user_id if viewer.user_id > 0 else None,
                    updated_at=now,
                )
                for s, k, m, v in chunk
            ]
        ).on_conflict(
            target=(MeasureValue.service, MeasureValue.measure, MeasureValue.month),
            action="DO UPDATE",
            values=[
                MeasureValue.value,
                MeasureValue.source,
                MeasureValue.entered_by,
                MeasureValue.updated_at,
            ],
        )
    # in the same transaction: the portfolio's summaries never disagree with the figures
    await summaries.refresh({s for s, _, _, _ in rows})


# --- CSV upload ------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str


class CsvRefused(Invalid):
    """A CSV with bad rows: every one listed, nothing written."""

    def __init__(self, rows: list[RowError]):
        verb = "is" if len(rows) == 1 else "are"
        rows_text = f"{counted(len(rows), 'row')} {verb} not valid"
        super().__init__({"file": f"{rows_text}; nothing was saved"})
        self.rows = rows


async def upload_csv(viewer: Viewer, filename: str, content: bytes) -> dict[str, Any]:
    """Columns: service (its id or CQC location id), month (2026-03), measure (key),
    value. One row per service, month and measure."""
    if not viewer.can_edit_services:
        raise Forbidden("Commissioners can view measures but not upload them")
    text = _decode(content)
    services = await access.services(
        viewer, Service.id, Service.cqc_location_id, Service.provider, Service.service_type
    )
    custom = await definitions_of({s["provider"] for s in services})
    rows, errors = parse_rows(text, services, custom)
    if errors:
        raise CsvRefused(errors)
    if not rows:
        raise Invalid({"file": "has no rows under its header"})
    async with write_tx():
        await _upsert(rows, viewer, "csv")
        await MeasureUpload.insert(
            MeasureUpload(
                organisation=viewer.organisation_id,
                filename=filename[:200],
                rows=len(rows),
                content=text,
                uploaded_by=viewer.user_id if viewer.user_id > 0 else None,
                created_at=clock.now(),
            )
        )
        for service_id, count in _count_by_service(rows).items():
            await history.record(
                actor=viewer,
                service_id=service_id,
                case_id=None,
                entity="measure",
                entity_id=None,
                action="uploaded",
                summary=f"{counted(count, 'measure figure')} uploaded from {filename[:100]}",
            )
    return {"rows": len(rows), "services": len(_count_by_service(rows))}


def _count_by_service(rows) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for service_id, *_ in rows:
        counts[service_id] += 1
    return counts


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid({"file": "must be a CSV saved as UTF-8"}) from None


def parse_rows(
    text: str, services: list[dict[str, Any]], custom: dict[int, list[Measure]]
) -> tuple[list[tuple[int, str, dt.date, float]], list[RowError]]:
    """Check every row; return the good rows and every error (line numbers as in a
    spreadsheet: the header is line 1)."""
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in CSV_HEADER if c not in header]
    if missing:
        return [], [RowError(1, f"the header must name the columns {', '.join(CSV_HEADER)}")]
    col = {c: header.index(c) for c in CSV_HEADER}
    by_ref = _service_refs(services)
    rows, errors, seen = [], [], {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if line > MAX_CSV_ROWS + 1:
            errors.append(RowError(line, f"too many rows: at most {MAX_CSV_ROWS} per file"))
            break
        try:
            row = _parse_row(cells, col, by_ref, custom)
        except ValueError as e:
            errors.append(RowError(line, str(e)))
            continue
        key = row[:3]
        if key in seen:
            errors.append(
                RowError(line, f"the same service, month and measure as line {seen[key]}")
            )
            continue
        seen[key] = line
        rows.append(row)
    return rows, errors


def _service_refs(services: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    refs = {}
    for s in services:
        refs[str(s["id"])] = s
        if s["cqc_location_id"]:
            refs[s["cqc_location_id"].lower()] = s
    return refs


def _parse_row(cells, col, by_ref, custom):
    def cell(name: str) -> str:
        i = col[name]
        return cells[i].strip() if i < len(cells) else ""

    service = by_ref.get(cell("service").lower())
    if service is None:
        # out of scope and unknown read the same: existence is not revealed
        raise ValueError(f"service {cell('service')!r} is not one of your services")
    month = parse_month(cell("month"))
    check_month(month)
    known = {m.key: m for m in measures_for(service["service_type"], custom[service["provider"]])}
    measure = known.get(cell("measure"))
    if measure is None:
        raise ValueError(f"measure {cell('measure')!r} is not a measure of this service")
    return service["id"], measure.key, month, check_value(measure, cell("value"))


# --- reading -----------------------------------------------------------------------------


async def series_of(services) -> dict[int, dict[str, list[tuple[dt.date, float]]]]:
    """Every figure of the services (a list of ids or a scope sub-select), by service and
    measure, in one query."""
    out: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    if isinstance(services, list) and not services:
        return out
    rows = (
        await MeasureValue.select(
            MeasureValue.service, MeasureValue.measure, MeasureValue.month, MeasureValue.value
        )
        .where(MeasureValue.service.is_in(services))
        .order_by(MeasureValue.month)
    )
    for r in rows:
        out[r["service"]][r["measure"]].append((r["month"], r["value"]))
    return out


def chart(points: list[tuple[dt.date, float]], measure: Measure) -> runchart.RunChart:
    s = get_settings()
    return runchart.analyse(
        points,
        baseline_points=s.runchart_baseline,
        shift_length=s.runchart_shift,
        trend_length=s.runchart_trend,
        better=measure.better,
    )


def latest_signal(rc: runchart.RunChart) -> runchart.Signal | None:
    # the most recent; on a tie a shift, the stronger sign that a change is real
    return max(rc.signals, key=lambda sig: (sig.end, sig.kind == "shift"), default=None)


def action_effect(rc: runchart.RunChart | None, verified_on: dt.date | None) -> dict[str, str]:
    """Did the measure move after the action was verified? Read from the run chart's
    signals: an improving shift or trend that reaches past the verification month."""
    if verified_on is None:
        return {"state": "unverified", "text": "Not verified yet"}
    if rc is None or not rc.points:
        return {"state": "no_data", "text": "No figures recorded for this measure"}
    since = verified_on.replace(day=1)
    after = [p for p in rc.points if p.month >= since]
    # only a signal that begins after verification is credited to the action: one that was
    # already under way may be the work of something else
    after_signals = [sig for sig in rc.signals if sig.start >= since]
    for sig in sorted(after_signals, key=lambda s: s.end, reverse=True):
        if sig.improving is True:
            return {"state": "improved", "text": f"Improved: {sig.explanation}"}
        if sig.improving is False:
            return {"state": "worse", "text": f"Moved the wrong way: {sig.explanation}"}
    if any(sig.end >= since and sig.improving for sig in rc.signals):
        return {
            "state": "before",
            "text": "Already improving before it was verified: no new signal since",
        }
    months = len(after)
    return {
        "state": "no_signal",
        "text": "No shift or trend since it was verified "
        f"({counted(months, 'month')} of figures since)",
    }


async def service_measures(viewer: Viewer, service_id: int) -> dict[str, Any]:
    """The measures page: every measure of the service with its run chart."""
    service = await access.service_or_404(
        viewer, service_id, Service.id, Service.name, Service.provider, Service.service_type
    )
    custom = (await definitions_of({service["provider"]}))[service["provider"]]
    series = (await series_of([service_id]))[service_id]
    markers = await verified_markers(service_id)
    items = []
    for m in measures_for(service["service_type"], custom):
        points = series.get(m.key, [])
        rc = chart(points, m)
        items.append(
            {
                "measure": m,
                "chart": rc,
                "latest": points[-1] if points else None,
                "markers": markers.get(m.key, []),
                "signal": latest_signal(rc),
            }
        )
    items.sort(key=lambda i: (i["latest"] is None, i["measure"].name))
    return {"service": service, "items": items}


async def verified_markers(service_id: int) -> dict[str, list[tuple[dt.date, str]]]:
    """Verified actions of the service's open case that name a measure, as chart markers."""
    from improve.plans.tables import Action  # plans depend on measures' keys, not back

    rows = await Action.select(Action.measure, Action.verified_on, Action.title).where(
        Action.plan.case.service == service_id,
        Action.plan.case.stage != "closed",
        Action.verified_on.is_not_null(),
        Action.measure.is_not_null(),
    )
    out: dict[str, list] = defaultdict(list)
    for r in rows:
        out[r["measure"]].append((r["verified_on"], f"Action verified: {r['title']}"))
    return out


def _fmt(value: float) -> str:
    return f"{value:g}"


def _unit(measure: Measure) -> str:
    if measure.unit == "%":
        return "%"
    return f" {measure.unit}" if measure.unit else ""


async def find_measure(service: dict[str, Any], key: str) -> Measure:
    custom = (await definitions_of({service["provider"]}))[service["provider"]]
    for m in measures_for(service["service_type"], custom):
        if m.key == key:
            return m
    raise NotFound("No such measure")


async def action_effects(service_id: int, actions: list[dict[str, Any]]) -> dict[int, dict]:
    """For each action that names a measure: the measure and whether it moved after the
    action was verified. Three queries for the whole plan."""
    named = [a for a in actions if a.get("measure") and a["status"] != "dropped"]
    if not named:
        return {}
    service = (
        await Service.select(Service.provider, Service.service_type)
        .where(Service.id == service_id)
        .first()
    )
    custom = (await definitions_of({service["provider"]}))[service["provider"]]
    known = {m.key: m for m in [*catalog.BUILT_IN, *custom]}
    series = (await series_of([service_id]))[service_id]
    out = {}
    for a in named:
        m = known.get(a["measure"])
        if m is None:
            continue
        rc = chart(series[m.key], m) if series.get(m.key) else None
        out[a["id"]] = {"measure": m, **action_effect(rc, a.get("verified_on"))}
    return out
