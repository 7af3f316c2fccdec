"""CSV exports that spreadsheets cannot turn into formulas (CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A cell that cannot run as a formula: a leading ' keeps it text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a number cannot be a formula; "-5" stays a number
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()
