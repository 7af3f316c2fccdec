"""Adding, listing and serving evidence.

A file's type is decided by reading its first bytes, never by its name or the type the
browser claims; anything not on the list is refused with a clear message and nothing is
written. Files are stored outside the database under random names; the row and the file
are written together (the file is removed again if the row cannot be).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from improve import access, clock, history
from improve.access import Viewer
from improve.cases import domain as cases
from improve.db import write_tx
from improve.errors import Conflict, Invalid, NotFound
from improve.evidence.tables import Evidence
from improve.settings import get_settings

log = logging.getLogger(__name__)

TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "text/plain": "text",
    "text/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Excel spreadsheet",
}
_OFFICE = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_TEXT = 10_000

# HTML hidden in a file we would otherwise accept: served back, a browser that guessed
# (or was tricked into) HTML would run its script. The files are served as attachments,
# with their type and nosniff, and those that look like web pages are refused as well.
# - in a text or CSV file, anywhere: an element that runs script, loads or submits
#   something, or makes a page (no space after "<": "a < b" is text to a browser too),
#   a doctype or XML prolog, or any tag with an event handler (<x onmouseover=…>);
_PAGE_TAGS = (
    rb"html|head|body|title|script|noscript|iframe|frame|frameset|object|embed|applet"
    rb"|svg|math|meta|link|base|style|form|input|button|textarea|select|img|image"
    rb"|video|audio|source|a|template|xml|marquee|dialog|details|xmp|plaintext|portal"
)
_HTML_IN_TEXT = re.compile(
    rb"<(?:/?(?:" + _PAGE_TAGS + rb")(?=[\s/>])|!doctype|\?xml)"
    rb"|<[a-z][^<>]{0,2000}?[\s/\"']on[a-z]+\s*=",
    re.I,
)
# - at the very start of a text file: what browsers' content sniffing takes for HTML
#   (WHATWG MIME Sniffing, "identifying a resource with an unknown MIME type");
_HTML_START = re.compile(
    rb"(?:\xef\xbb\xbf)?[\t\n\x0c\r ]*<(?:!--|(?:p|b|br|h1|div|font|table)[\s>])", re.I
)
# - in the first bytes of a PDF or an image (where a browser sniffing would look), only
#   the unmistakable tags: short ones turn up by chance in compressed data.
_HTML_IN_BINARY = re.compile(rb"<(?:html|head|body|script|iframe|svg|object|embed|!doctype)", re.I)
BINARY_SCAN = 8192


def _html_inside(content: bytes, *, text: bool) -> bool:
    if not text:
        return _HTML_IN_BINARY.search(content[:BINARY_SCAN]) is not None
    return bool(_HTML_START.match(content) or _HTML_IN_TEXT.search(content))


def sniff(content: bytes) -> str | None:
    """The content type found in the bytes themselves, or None when not accepted (not on
    the list, or a web page inside: see _html_inside)."""
    for magic, kind in (
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
    ):
        if content.startswith(magic):
            return None if _html_inside(content, text=False) else kind
    if content.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(content)).namelist()
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            for prefix, kind in _OFFICE.items():
                if any(n.startswith(prefix) for n in names):
                    return kind
        return None
    if b"\x00" in content[:8192] or _html_inside(content, text=True):
        return None  # binary, or a web page / script dressed as text
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    first = text.splitlines()[0] if text else ""
    return "text/csv" if first.count(",") >= 1 and "\n" in text else "text/plain"


def safe_name(name: str) -> str:
    """A file name fit for a Content-Disposition header and a screen."""
    base = os.path.basename(name.replace("\\", "/")).strip() or "evidence"
    cleaned = re.sub(r"[^A-Za-z0-9._ -]", "_", base)[:200].strip(" .") or "evidence"
    return cleaned


def upload_dir() -> Path:
    folder = Path(get_settings().upload_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_link(url: str) -> str:
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or len(url) > 2000:
        raise Invalid({"url": "must be a web address starting with https:// or http://"})
    return url


async def _target(viewer: Viewer, *, action_id: int | None, finding_id: int | None) -> dict:
    """The case (editable by the viewer) the evidence belongs to."""
    if action_id is not None:
        from improve.plans import actions

        row = await actions.get_action(viewer, action_id)
        case = await cases.editable_case(viewer, row["case_id"])
        return {"case": case, "action": action_id, "finding": None, "label": row["title"]}
    finding = await cases.get_finding(viewer, finding_id or 0)
    case = await cases.editable_case(viewer, finding["case"])
    return {
        "case": case,
        "action": None,
        "finding": finding["id"],
        "label": f"finding (regulation {finding['regulation']})",
    }


async def add(
    viewer: Viewer,
    *,
    action_id: int | None = None,
    finding_id: int | None = None,
    text: str = "",
    url: str = "",
    file_name: str = "",
    content: bytes | None = None,
) -> dict[str, Any]:
    """Adds one piece of evidence: a text, a link, or a file (with an optional caption)."""
    target = await _target(viewer, action_id=action_id, finding_id=finding_id)
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise Invalid({"text": f"must be at most {MAX_TEXT} characters"})
    fields: dict[str, Any] = {"text": text}
    stored: Path | None = None
    if content:
        limit = get_settings().upload_max_mb * 1024 * 1024
        if len(content) > limit:
            raise Invalid({"file": f"is larger than {get_settings().upload_max_mb} MB"})
        kind = sniff(content)
        if kind is None:
            allowed = ", ".join(sorted(set(TYPES.values())))
            raise Invalid(
                {
                    "file": f"is not a type we accept ({allowed}); its content was "
                    "checked, not its name"
                }
            )
        stored_name = secrets.token_hex(16)
        stored = upload_dir() / stored_name
        stored.write_bytes(content)
        fields.update(
            kind="file",
            file_name=safe_name(file_name),
            stored_name=stored_name,
            content_type=kind,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
        )
    elif url:
        fields.update(kind="link", url=_check_link(url))
    elif text:
        fields.update(kind="text")
    else:
        raise Invalid({"evidence": "write a note, give a link or choose a file"})
    try:
        async with write_tx():
            rows = await Evidence.insert(
                Evidence(
                    case=target["case"]["id"],
                    action=target["action"],
                    finding=target["finding"],
                    uploaded_by=viewer.user_id,
                    uploaded_by_name=viewer.name,
                    uploaded_at=clock.now(),
                    **fields,
                )
            ).returning(Evidence.id)
            what = fields.get("file_name") or fields.get("url") or "a note"
            await history.record(
                actor=viewer,
                service_id=target["case"]["service"],
                case_id=target["case"]["id"],
                entity="evidence",
                entity_id=rows[0]["id"],
                action="added",
                summary=f"Evidence on {target['label']}: {what}"[:300],
                after={k: v for k, v in fields.items() if k != "stored_name"},
            )
    except BaseException:
        if stored is not None:
            stored.unlink(missing_ok=True)
        raise
    return await get(viewer, rows[0]["id"])


COLUMNS = (
    Evidence.id,
    Evidence.case,
    Evidence.action,
    Evidence.finding,
    Evidence.kind,
    Evidence.text,
    Evidence.url,
    Evidence.file_name,
    Evidence.content_type,
    Evidence.size,
    Evidence.uploaded_by_name,
    Evidence.uploaded_at,
    Evidence.withdrawn_at,
    Evidence.withdrawn_by_name,
    Evidence.withdrawn_reason,
)


def _scope(viewer: Viewer):
    return Evidence.case.service.is_in(access.visible_service_ids(viewer))


async def get(viewer: Viewer, evidence_id: int) -> dict[str, Any]:
    row = (
        await Evidence.select(*COLUMNS, Evidence.stored_name)
        .where((Evidence.id == evidence_id) & _scope(viewer))
        .first()
    )
    if row is None:
        raise NotFound("No such evidence")
    return row


async def for_action(viewer: Viewer, action_id: int) -> list[dict[str, Any]]:
    return (
        await Evidence.select(*COLUMNS)
        .where((Evidence.action == action_id) & _scope(viewer))
        .order_by(Evidence.uploaded_at)
    )


async def for_finding(viewer: Viewer, finding_id: int) -> list[dict[str, Any]]:
    return (
        await Evidence.select(*COLUMNS)
        .where((Evidence.finding == finding_id) & _scope(viewer))
        .order_by(Evidence.uploaded_at)
    )


async def file_for_download(viewer: Viewer, evidence_id: int) -> tuple[Path, dict[str, Any]]:
    """The stored file of evidence the viewer can see (404 otherwise)."""
    row = await get(viewer, evidence_id)
    if row["withdrawn_at"] is not None:
        raise NotFound(
            f"This evidence was withdrawn by {row['withdrawn_by_name']} on "
            f"{row['withdrawn_at']:%-d %b %Y}: {row['withdrawn_reason']}"
        )
    if row["kind"] != "file":
        raise NotFound("This evidence has no file")
    path = upload_dir() / row["stored_name"]
    if not path.is_file():
        raise NotFound("The file is missing from storage")
    return path, row


MAX_REASON = 500


async def withdraw(viewer: Viewer, evidence_id: int, reason: str) -> dict[str, Any]:
    """Withdraw evidence added by mistake: the row stays, saying who withdrew it, when and
    why; the file is deleted and the note, link and file name are emptied, and replaced
    by "[withdrawn]" in the history's copies, so what should not have been shared is gone
    from the pages, the history, the case file and storage. Anyone who can edit the case
    may do it, on a closed case too (a wrong file must not stay for ever)."""
    row = await get(viewer, evidence_id)
    case = await cases.editable_case(viewer, row["case"])
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": "say why it is withdrawn, for the case's history"})
    if len(reason) > MAX_REASON:
        raise Invalid({"reason": f"must be at most {MAX_REASON} characters"})
    async with write_tx():
        updated = (
            await Evidence.update(
                {
                    Evidence.withdrawn_at: clock.now(),
                    Evidence.withdrawn_by_name: viewer.name,
                    Evidence.withdrawn_reason: reason,
                    Evidence.text: "",
                    Evidence.url: "",
                    Evidence.file_name: "",
                    Evidence.stored_name: "",
                }
            )
            .where((Evidence.id == evidence_id) & Evidence.withdrawn_at.is_null())
            .returning(Evidence.id)
        )
        if not updated:
            raise Conflict("This evidence was already withdrawn")
        # the history's copies of the note, link and file name go too, in this
        # transaction: what should not have been shared must not stay readable there
        await history.record_evidence_withdrawal(
            actor=viewer,
            service_id=case["service"],
            case_id=case["id"],
            evidence_id=evidence_id,
            reason=reason,
        )
    if row["stored_name"]:
        _delete_file(row["stored_name"])
    return await get(viewer, evidence_id)


def _delete_file(stored_name: str) -> None:
    """After the commit, so a refused withdrawal never loses a file. A file that cannot
    be deleted is logged: the row already refuses to serve it."""
    try:
        (upload_dir() / stored_name).unlink(missing_ok=True)
    except OSError:
        log.exception("could not delete the withdrawn evidence file %s", stored_name)
