"""CSV files to save, not to show: one place for how every CSV download is sent."""

from __future__ import annotations

from pathlib import Path

from litestar.background_tasks import BackgroundTask
from litestar.response import File, Response

# Excel, which most councils and providers open CSV files with, reads a file without a
# byte-order mark as Windows-1252 (Zoë becomes ZoÃ«, → becomes â†’). The mark makes it
# read UTF-8; every other spreadsheet and our own uploads (utf-8-sig) ignore it.
BOM = "\ufeff"


def csv_download(body: str, filename: str, *, for_spreadsheets: bool = True) -> Response:
    """A CSV file to save, not to show. ``for_spreadsheets``: start with the byte-order
    mark (page downloads); the API's scripts get the bytes without it."""
    return Response(
        (BOM if for_spreadsheets else "") + body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def temporary_download(path: Path, filename: str, media_type: str) -> File:
    """A file made for this one download (a case file's ZIP): sent as an attachment, then
    deleted from the disk."""
    return File(
        path=path,
        filename=filename,
        media_type=media_type,
        content_disposition_type="attachment",
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
