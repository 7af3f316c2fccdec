"""The latest figure and signal of every measure of a service, kept up to date as figures
are saved, so that portfolio views read one small row per home and measure.

Why stored: a provider's quality view shows 50 homes × 16 measures. Analysing 24 months
of each on every view meant reading ~19,000 figures and running 800 run charts per
request. The figures change a few times a month; the view is read many times a day.

Kept by ``refresh`` (called in the same transaction as every write of figures, so a
summary never disagrees with its figures) and by ``refresh_stale`` (``improve migrate``:
summaries missing after an upgrade, or found with other run-chart thresholds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from piccolo.query.functions.aggregate import Max, Min

from improve import clock
from improve.measures.catalog import Measure
from improve.measures.runchart import Signal
from improve.measures.tables import MeasureSummary, MeasureValue
from improve.services.tables import Service
from improve.settings import get_settings

CHUNK = 200  # services refreshed per round of queries (bounded statements)


def basis() -> str:
    """The thresholds a signal depends on: a summary found with others is stale."""
    s = get_settings()
    return f"{s.runchart_baseline}/{s.runchart_shift}/{s.runchart_trend}"


def signal_dict(sig: Signal | None) -> dict[str, Any] | None:
    if sig is None:
        return None
    return {
        "kind": sig.kind,
        "direction": sig.direction,
        "improving": sig.improving,
        "explanation": sig.explanation,
        "start": sig.start.isoformat(),
        "end": sig.end.isoformat(),
    }


def summarise(points: list[tuple[dt.date, float]], measure: Measure) -> dict[str, Any]:
    """One summary row's values (pure: the run-chart rules live in measures.chart)."""
    from improve.measures import domain

    rc = domain.chart(points, measure)
    return {
        "points": len(points),
        "latest_month": points[-1][0],
        "latest_value": points[-1][1],
        "signal": signal_dict(domain.latest_signal(rc)),
    }


async def refresh(service_ids: Iterable[int]) -> int:
    """Rebuild the summaries of these services from their figures. Call it inside the
    transaction that wrote the figures. Three queries per chunk of services."""
    from improve.measures import domain

    ids = sorted(set(service_ids))
    written = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        services = await Service.select(Service.id, Service.provider, Service.service_type).where(
            Service.id.is_in(chunk)
        )
        custom = await domain.definitions_of({s["provider"] for s in services})
        series = await domain.series_of(chunk)
        rows = []
        now, kept_with = clock.now(), basis()
        for s in services:
            figures = series.get(s["id"], {})
            for m in domain.measures_for(s["service_type"], custom.get(s["provider"], [])):
                if figures.get(m.key):
                    values = summarise(figures[m.key], m)
                    rows.append(
                        MeasureSummary(
                            service=s["id"],
                            measure=m.key,
                            basis=kept_with,
                            updated_at=now,
                            **values,
                        )
                    )
        await MeasureSummary.delete().where(MeasureSummary.service.is_in(chunk))
        for at in range(0, len(rows), 500):
            await MeasureSummary.insert(*rows[at : at + 500])
        written += len(rows)
    return written


async def of_services(services) -> dict[int, dict[str, dict[str, Any]]]:
    """Summaries by service and measure key, for a list of ids or a scope sub-select.
    One query."""
    out: dict[int, dict[str, dict[str, Any]]] = {}
    rows = (
        await MeasureSummary.select(
            MeasureSummary.service,
            MeasureSummary.measure,
            MeasureSummary.latest_month,
            MeasureSummary.latest_value,
            MeasureSummary.signal,
        )
        .where(MeasureSummary.service.is_in(services))
        .output(load_json=True)
    )
    for r in rows:
        out.setdefault(r["service"], {})[r["measure"]] = r
    return out


async def stale_services() -> list[int]:
    """Services whose summaries are missing, older than a figure, or found with other
    thresholds. Two grouped queries over the whole database (run at migrate time)."""
    figures = {
        r["service"]: r["changed"]
        for r in await MeasureValue.select(
            MeasureValue.service, Max(MeasureValue.updated_at, alias="changed")
        ).group_by(MeasureValue.service)
    }
    kept = {
        r["service"]: r
        for r in await MeasureSummary.select(
            MeasureSummary.service,
            Min(MeasureSummary.updated_at, alias="kept"),
            Min(MeasureSummary.basis, alias="low"),
            Max(MeasureSummary.basis, alias="high"),
        ).group_by(MeasureSummary.service)
    }
    now_basis = basis()
    stale = []
    for service, changed in figures.items():
        k = kept.get(service)
        if k is None or k["low"] != now_basis or k["high"] != now_basis:
            stale.append(service)
        elif _as_datetime(k["kept"]) < _as_datetime(changed):
            stale.append(service)
    return sorted(stale)


def _as_datetime(value: Any) -> dt.datetime:
    # aggregates come back as text on SQLite (no declared type to convert from)
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value


async def refresh_stale() -> int:
    """Bring every stale summary up to date; the number of services refreshed."""
    from improve.db import write_tx

    stale = await stale_services()
    for start in range(0, len(stale), CHUNK):
        async with write_tx():
            await refresh(stale[start : start + CHUNK])
    return len(stale)
