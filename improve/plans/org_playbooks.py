"""Organisations' own playbooks: uploaded YAML, validated exactly like the shipped ones,
seen only by the organisation's people, every version kept."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from improve import clock
from improve.access import Viewer
from improve.accounts.tables import OrgKind, Role
from improve.db import write_tx
from improve.errors import Forbidden, Invalid, NotFound
from improve.plans import playbooks as playbook_files
from improve.plans.playbooks import Playbook, PlaybookError
from improve.plans.tables import OrgPlaybook

MAX_BYTES = 512 * 1024
KEPT = 256  # parsed stored playbooks kept in memory (each source is at most MAX_BYTES)

log = logging.getLogger(__name__)
_kept: dict[tuple[str, str], Playbook | None] = {}


async def _parse(text: str, name: str) -> Playbook:
    """Parse in a worker thread: half a megabyte of YAML takes most of a second, and the
    event loop must go on answering everyone else meanwhile."""
    return await asyncio.to_thread(playbook_files.parse_text, text, name)


async def _parsed(source: str, name: str) -> Playbook | None:
    """A stored playbook, parsed once per process; None (and a warning in the log) for one
    stored before a rule it breaks, such as the refusal of YAML aliases."""
    key = (source, name)
    if key in _kept:
        return _kept[key]
    try:
        book: Playbook | None = await _parse(source, name)
    except PlaybookError as exc:
        log.warning("stored playbook %s is left out: %s", name, exc)
        book = None
    if len(_kept) >= KEPT:
        _kept.pop(next(iter(_kept)))
    _kept[key] = book
    return book


def _check_clashes(book: Playbook) -> None:
    standard = playbook_files.standard()
    if book.id in standard:
        raise Invalid(
            {
                "file": f"'{book.id}' is the id of a playbook that comes with improve: "
                "give yours an id of its own"
            }
        )
    taken = {a.id for b in standard.values() for a in b.actions}
    clash = sorted(a.id for a in book.actions if a.id in taken)
    if clash:
        raise Invalid({"file": f"action ids already used by improve's playbooks: {clash}"})


async def upload(viewer: Viewer, text: str, file_name: str = "playbook.yaml") -> dict[str, Any]:
    """Validate and store a new version of one of the organisation's playbooks."""
    if viewer.role not in (Role.QUALITY_LEAD,) or viewer.organisation_kind != OrgKind.PROVIDER:
        raise Forbidden("Provider quality leads add their organisation's playbooks")
    if len(text.encode()) > MAX_BYTES:
        raise Invalid({"file": "is larger than 512 KB"})
    try:
        book = await _parse(text, file_name)
    except PlaybookError as exc:
        raise Invalid({"file": str(exc)}) from None
    if not book.id.startswith(f"{book.theme}") and "." in book.id:
        raise Invalid({"file": "the playbook id must not contain a dot"})
    _check_clashes(book)
    async with write_tx():
        latest = (
            await OrgPlaybook.select(OrgPlaybook.version, OrgPlaybook.source)
            .where(
                (OrgPlaybook.organisation == viewer.organisation_id)
                & (OrgPlaybook.playbook_id == book.id)
            )
            .order_by(OrgPlaybook.version, ascending=False)
            .first()
        )
        if latest and latest["version"] == book.version and latest["source"] == text:
            return {"playbook_id": book.id, "version": book.version, "created": False}
        if latest and book.version <= latest["version"]:
            raise Invalid(
                {
                    "file": f"version {book.version} is not newer than the stored "
                    f"version {latest['version']}: raise 'version'"
                }
            )
        await OrgPlaybook.insert(
            OrgPlaybook(
                organisation=viewer.organisation_id,
                playbook_id=book.id,
                version=book.version,
                theme=book.theme,
                title=book.title,
                source=text,
                uploaded_by=viewer.user_id,
                uploaded_at=clock.now(),
            )
        )
    return {"playbook_id": book.id, "version": book.version, "created": True}


async def latest_for(organisation_id: int) -> list[Playbook]:
    """The newest version of each of the organisation's playbooks, parsed."""
    rows = (
        await OrgPlaybook.select(OrgPlaybook.playbook_id, OrgPlaybook.version, OrgPlaybook.source)
        .where(OrgPlaybook.organisation == organisation_id)
        .order_by(OrgPlaybook.playbook_id)
        .order_by(OrgPlaybook.version, ascending=False)
    )
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        newest.setdefault(row["playbook_id"], row)
    books = [
        await _parsed(r["source"], f"{r['playbook_id']} v{r['version']}") for r in newest.values()
    ]
    return [b for b in books if b is not None]


async def visible_to(viewer: Viewer) -> list[Playbook]:
    if viewer.organisation_kind != OrgKind.PROVIDER:
        return []
    return await latest_for(viewer.organisation_id)


async def get(viewer: Viewer, playbook_id: str) -> Playbook:
    """A shipped playbook, or one of the viewer's organisation's own (404 otherwise)."""
    standard = playbook_files.standard()
    if playbook_id in standard:
        return standard[playbook_id]
    for book in await visible_to(viewer):
        if book.id == playbook_id:
            return book
    raise NotFound("No such playbook")
