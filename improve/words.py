"""Small helpers for writing numbers into sentences people read."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 row", "3 rows", "2 services": never "row(s)"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
