"""CSV files to save, not to show: one place for how every CSV download is sent."""

from __future__ import annotations

from litestar.response import Response

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
