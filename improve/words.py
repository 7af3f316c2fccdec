"""Small helpers for writing numbers into sentences people read."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 row", "3 rows", "2 services": never "row(s)"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def file_size(size: int) -> str:
    """ "46 bytes", "12 KB", "3.4 MB": a small file is not "0 KB"."""
    if size < 1024:
        return counted(size, "byte")
    if size < 1024 * 1024:
        return f"{size / 1024:,.0f} KB"
    return f"{size / (1024 * 1024):,.1f} MB"
