"""The case file: one case's whole record in one ZIP, for a re-inspection, a
provider-concerns meeting, or the organisation's records when the case closes.

It holds the plan as it is sent to CQC, the findings, every progress review, the
service's measures, the evidence (its list, and the files themselves) and the full
history, each as a CSV that spreadsheets open safely, with a README saying what each
file is. Withdrawn evidence is listed with why, and its file is not there: it was
deleted, and its texts were redacted in the history. The same reads as the pages,
through the same scope: whoever can see the case can take its file, and nothing more.

The ZIP is written to a temporary file in a worker thread (evidence can run to hundreds
of megabytes), sent, then deleted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from improve import clock, framework, history
from improve.access import Viewer
from improve.cases import domain as cases
from improve.cases.stages import STAGE_LABELS, Stage
from improve.evidence import domain as evidence
from improve.evidence.tables import Evidence
from improve.exports import to_csv
from improve.reviews.domain import AUDIENCES, CONFIDENCE, RAG

README = """\
Case file: {service}
Made by {who} on {made}, from improve.

case.txt       the case: stage, dates, special measures
findings.csv   what was found, against which regulation and key question
plan.csv       the action plan as it is sent to CQC: for each breach, what we will do,
               who, by when, its status and how we will know it worked
reviews.csv    every progress review: who attended, the colours given, decisions
measures.csv   the service's monthly figures, one row per measure and month
evidence.csv   every piece of evidence, on which action or finding, who added it when
evidence/      the evidence files themselves, named by their number in evidence.csv
history.csv    every change to the case, with who made it and when, as recorded
               (withdrawn evidence's note, link and file name show as [withdrawn])

The CSV files open in Excel, LibreOffice or Google Sheets. A cell that would start with
=, +, - or @ begins with ' so that no spreadsheet runs it as a formula.
"""


@dataclass(frozen=True)
class CaseFile:
    path: Path
    filename: str


async def build(viewer: Viewer, case_id: int) -> CaseFile:
    """The case file of a case in the viewer's scope (NotFound otherwise)."""
    _sweep()
    from improve.measures import domain as measures
    from improve.plans import domain as plans
    from improve.reviews import domain as reviews

    case = await cases.get_case(viewer, case_id)
    findings = await cases.findings_in(case_id)
    texts = {
        "README.txt": README.format(
            service=case["service_name"],
            who=viewer.name,
            made=clock.local(clock.now()).strftime("%-d %B %Y, %H:%M"),
        ),
        "case.txt": _case_text(case),
        "findings.csv": _findings_csv(findings),
        "plan.csv": await plans.plan_csv(viewer, case_id),
        "reviews.csv": _reviews_csv(await reviews.recent_of(case_id, limit=10_000)),
        "measures.csv": _measures_csv(
            (await measures.series_of([case["service"]]))[case["service"]],
            await _measure_names(case["service"]),
        ),
        "history.csv": await history.export_csv(viewer, case_id),
    }
    items = await _evidence(case_id)
    texts["evidence.csv"] = _evidence_csv(items)
    folder = evidence.upload_dir()
    files = [
        (f"evidence/{e['id']}-{e['file_name']}", folder / e["stored_name"])
        for e in items
        if e["kind"] == "file" and e["withdrawn_at"] is None and e["stored_name"]
    ]
    path = await asyncio.to_thread(_write_zip, texts, files)
    day = clock.today().isoformat()
    return CaseFile(path, f"case-{case_id}-{_slug(case['service_name'])}-{day}.zip")


PREFIX = "improve-casefile-"
STALE_AFTER = dt.timedelta(hours=1)


def _sweep() -> None:
    """Delete case files left behind: each is deleted once sent, but a download broken
    off midway may never finish sending."""
    cutoff = (clock.now() - STALE_AFTER).timestamp()
    for old in Path(tempfile.gettempdir()).glob(PREFIX + "*.zip"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass  # another instance removed it first


def _write_zip(texts: dict[str, str], files: list[tuple[str, Path]]) -> Path:
    handle, name = tempfile.mkstemp(prefix=PREFIX, suffix=".zip")
    os.close(handle)
    try:
        with zipfile.ZipFile(name, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for arcname, text in texts.items():
                # CSVs with a byte-order mark, so Excel reads names with accents rightly
                body = ("\ufeff" if arcname.endswith(".csv") else "") + text
                zf.writestr(arcname, body.encode("utf-8"))
            for arcname, source in files:
                if source.is_file():  # a file lost from storage is listed, not fatal
                    zf.write(source, arcname)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def _slug(name: str) -> str:
    """A file name's part in plain ASCII ("Zoë's House" → "zoes-house"): some mail and
    file systems still mangle anything else."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    kept = "".join(c if c.isalnum() else "-" for c in plain.lower().replace("'", ""))
    return "-".join(part for part in kept.split("-") if part)[:60] or "service"


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _case_text(case: dict[str, Any]) -> str:
    lines = [
        f"Service: {case['service_name']}",
        f"Stage: {STAGE_LABELS[Stage(case['stage'])]}",
        f"Special measures: {'yes' if case['special_measures'] else 'no'}"
        + (f", since {_day(since)}" if (since := case.get("special_measures_since")) else ""),
        f"Opened on: {_day(case['opened_on'])}",
        f"Report published on: {_day(case['published_on'])}",
        f"Action plan due to CQC: {_day(case['action_plan_due_on'])}",
        f"Expected re-inspection: {_day(case['expected_reinspection_on'])}",
    ]
    if case.get("closed_on"):
        lines.append(f"Closed on: {_day(case['closed_on'])}")
    return "\n".join(lines) + "\n"


def _findings_csv(findings: list[dict[str, Any]]) -> str:
    return to_csv(
        ["number", "regulation", "key question", "quality statements", "what was found",
         "source", "severity", "status", "why withdrawn"],
        (
            [
                f["id"],
                f["regulation"],
                framework.KEY_QUESTION_TITLES.get(f["key_question"], f["key_question"]),
                "; ".join(f["items"] or []),
                f["description"],
                cases.SOURCES.get(f["source"], f["source"]),
                cases.SEVERITIES.get(f["severity"], f["severity"]),
                cases.FINDING_STATUSES.get(f["status"], f["status"]),
                f["withdrawn_reason"],
            ]
            for f in findings
        ),
    )  # fmt: skip


def _reviews_csv(rows: list[dict[str, Any]]) -> str:
    return to_csv(
        ["held on", "review", "attendees", "overall", "themes", "confidence", "notes",
         "decisions", "recorded by"],
        (
            [
                _day(r["held_on"]),
                AUDIENCES.get(r["audience"], r["audience"]),
                r["attendees"],
                RAG.get(r["overall_rag"], r["overall_rag"]),
                "; ".join(f"{k}: {v}" for k, v in (r["rag"] or {}).items()),
                CONFIDENCE.get(r["confidence"], r["confidence"]),
                r["notes"],
                r["decisions"],
                r["recorded_by_name"],
            ]
            for r in sorted(rows, key=lambda r: (r["held_on"], r["id"]))
        ),
    )  # fmt: skip


async def _measure_names(service_id: int) -> dict[str, str]:
    from improve.measures import catalog
    from improve.measures.domain import definitions_of
    from improve.services.tables import Service

    provider = (await Service.select(Service.provider).where(Service.id == service_id).first())[
        "provider"
    ]
    custom = (await definitions_of({provider}))[provider]
    return {m.key: m.name for m in [*catalog.BUILT_IN, *custom]}


def _measures_csv(series: dict[str, list[tuple[dt.date, float]]], names: dict[str, str]) -> str:
    return to_csv(
        ["measure", "month", "value"],
        (
            [names.get(key, key), month.strftime("%Y-%m"), value]
            for key, points in sorted(series.items(), key=lambda kv: names.get(kv[0], kv[0]))
            for month, value in points
        ),
    )


async def _evidence(case_id: int) -> list[dict[str, Any]]:
    return (
        await Evidence.select(
            *evidence.COLUMNS,
            Evidence.stored_name,
            Evidence.action.title.as_alias("action_title"),
            Evidence.finding.regulation.as_alias("finding_regulation"),
        )
        .where(Evidence.case == case_id)
        .order_by(Evidence.uploaded_at)
        .order_by(Evidence.id)
    )


def _evidence_csv(items: list[dict[str, Any]]) -> str:
    def on(e: dict[str, Any]) -> str:
        if e["action"] is not None:
            return f"action: {e['action_title']}"
        return f"finding: regulation {e['finding_regulation']}"

    def file_in_zip(e: dict[str, Any]) -> str:
        if e["kind"] != "file" or e["withdrawn_at"] is not None:
            return ""
        return f"evidence/{e['id']}-{e['file_name']}"

    return to_csv(
        ["number", "on", "kind", "note", "link", "file", "added by", "added at",
         "withdrawn by", "withdrawn at", "why withdrawn"],
        (
            [
                e["id"],
                on(e),
                e["kind"],
                e["text"],
                e["url"],
                file_in_zip(e),
                e["uploaded_by_name"],
                e["uploaded_at"].isoformat(),
                e["withdrawn_by_name"],
                e["withdrawn_at"].isoformat() if e["withdrawn_at"] else "",
                e["withdrawn_reason"],
            ]
            for e in items
        ),
    )  # fmt: skip
