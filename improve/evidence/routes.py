"""Pages and API for evidence: add to an action or a finding, and download files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody
from litestar.response import File, Redirect, Template

from improve.api.documented import WRITE_ERRORS
from improve.errors import Invalid
from improve.evidence import domain as evidence
from improve.settings import get_settings
from improve.web.auth import CurrentViewer
from improve.web.params import Id


async def _read_upload(upload: Any) -> tuple[str, bytes | None]:
    if upload is None or not hasattr(upload, "read") or not getattr(upload, "filename", ""):
        return "", None
    limit = get_settings().upload_max_mb * 1024 * 1024
    content = await upload.read(limit + 1)  # one byte over tells us it is too large
    return upload.filename, content or None


async def _add_from_form(request: Request, viewer, **target: int) -> None:
    form = await request.form()
    name, content = await _read_upload(form.get("file"))
    await evidence.add(
        viewer,
        text=str(form.get("text") or ""),
        url=str(form.get("url") or ""),
        file_name=name,
        content=content,
        **target,
    )


@post("/actions/{action_id:int}/evidence", include_in_schema=False)
async def add_to_action(
    request: Request, viewer: CurrentViewer, action_id: Id
) -> Template | Redirect:
    from improve.plans import actions
    from improve.plans.routes import _action_page

    await actions.get_action(viewer, action_id)  # scope before reading the body
    try:
        await _add_from_form(request, viewer, action_id=action_id)
    except Invalid as exc:
        return await _action_page(viewer, action_id, exc.errors, 400)
    return Redirect(f"/actions/{action_id}#evidence", status_code=303)


@post("/findings/{finding_id:int}/evidence", include_in_schema=False)
async def add_to_finding(
    request: Request, viewer: CurrentViewer, finding_id: Id
) -> Template | Redirect:
    from improve.cases import domain as cases
    from improve.cases.routes import _finding_page

    finding = await cases.get_finding(viewer, finding_id)
    try:
        await _add_from_form(request, viewer, finding_id=finding_id)
    except Invalid as exc:
        case = await cases.editable_case(viewer, finding["case"])
        return await _finding_page(viewer, case, finding, exc.errors, finding, status=400)
    return Redirect(f"/findings/{finding_id}/edit#evidence", status_code=303)


def _download(path, row: dict[str, Any]) -> File:
    return File(
        path=path,
        filename=row["file_name"],
        media_type=row["content_type"],
        content_disposition_type="attachment",
    )


@get("/evidence/{evidence_id:int}/download", include_in_schema=False)
async def download(viewer: CurrentViewer, evidence_id: Id) -> File:
    path, row = await evidence.file_for_download(viewer, evidence_id)
    return _download(path, row)


@post("/evidence/{evidence_id:int}/withdraw", include_in_schema=False)
async def withdraw(request: Request, viewer: CurrentViewer, evidence_id: Id) -> Template | Redirect:
    row = await evidence.get(viewer, evidence_id)  # scope before reading the body
    form = await request.form()
    try:
        await evidence.withdraw(viewer, evidence_id, str(form.get("reason") or ""))
    except Invalid as exc:
        return await _page_of(viewer, row, exc.errors)
    return Redirect(_page_url(row) + "#evidence", status_code=303)


def _page_url(row: dict[str, Any]) -> str:
    if row["action"] is not None:
        return f"/actions/{row['action']}"
    return f"/findings/{row['finding']}/edit"


async def _page_of(viewer, row: dict[str, Any], errors: dict) -> Template:
    """The page the evidence is listed on, with the refused withdrawal open."""
    from improve.cases import domain as cases
    from improve.cases.routes import _finding_page
    from improve.plans.routes import _action_page

    if row["action"] is not None:
        return await _action_page(viewer, row["action"], errors, 400, withdrawing=row["id"])
    finding = await cases.get_finding(viewer, row["finding"])
    case = await cases.get_case(viewer, finding["case"])
    return await _finding_page(
        viewer, case, finding, errors, finding, status=400, withdrawing=row["id"]
    )


# --- API ------------------------------------------------------------------------------


@dataclass
class EvidenceForm:
    text: str = ""
    url: str = ""
    file: UploadFile | None = None


class EvidenceOut(msgspec.Struct):
    id: int
    kind: str
    text: str
    url: str
    file_name: str
    content_type: str
    size: int
    uploaded_by: str
    uploaded_at: Any
    download: str | None
    withdrawn_at: Any = None
    withdrawn_by: str = ""
    withdrawn_reason: str = ""

    @classmethod
    def of(cls, row: dict[str, Any]) -> EvidenceOut:
        withdrawn = row["withdrawn_at"] is not None
        link = None
        if row["kind"] == "file" and not withdrawn:
            link = f"/api/v1/evidence/{row['id']}/download"
        return cls(
            row["id"],
            row["kind"],
            row["text"],
            row["url"],
            row["file_name"],
            row["content_type"],
            row["size"],
            row["uploaded_by_name"],
            row["uploaded_at"],
            link,
            row["withdrawn_at"],
            row["withdrawn_by_name"],
            row["withdrawn_reason"],
        )


Multipart = Body(media_type=RequestEncodingType.MULTI_PART)


async def _api_add(viewer, form: EvidenceForm, **target: int) -> EvidenceOut:
    name, content = await _read_upload(form.file)
    row = await evidence.add(
        viewer, text=form.text, url=form.url, file_name=name, content=content, **target
    )
    return EvidenceOut.of(row)


@post(
    "/actions/{action_id:int}/evidence",
    summary="Add evidence to an action (multipart: text, url and/or file)",
    raises=WRITE_ERRORS,
)
async def api_add_to_action(
    viewer: CurrentViewer, action_id: Id, data: Annotated[EvidenceForm, Multipart]
) -> EvidenceOut:
    return await _api_add(viewer, data, action_id=action_id)


@post(
    "/findings/{finding_id:int}/evidence",
    summary="Add evidence to a finding (multipart: text, url and/or file)",
    raises=WRITE_ERRORS,
)
async def api_add_to_finding(
    viewer: CurrentViewer, finding_id: Id, data: Annotated[EvidenceForm, Multipart]
) -> EvidenceOut:
    return await _api_add(viewer, data, finding_id=finding_id)


class WithdrawBody(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(description="Why it is withdrawn (kept in the history)")]


@post(
    "/evidence/{evidence_id:int}/withdraw",
    summary="Withdraw evidence added by mistake: its file is deleted, its note, link and "
    "file name emptied; who, when and why are kept",
    raises=WRITE_ERRORS,
    status_code=200,
)
async def api_withdraw(
    viewer: CurrentViewer, evidence_id: Id, data: JSONBody[WithdrawBody]
) -> EvidenceOut:
    return EvidenceOut.of(await evidence.withdraw(viewer, evidence_id, data.reason))


@get("/actions/{action_id:int}/evidence", summary="An action's evidence", raises=WRITE_ERRORS)
async def api_action_evidence(viewer: CurrentViewer, action_id: Id) -> list[EvidenceOut]:
    from improve.plans import actions

    await actions.get_action(viewer, action_id)
    return [EvidenceOut.of(r) for r in await evidence.for_action(viewer, action_id)]


@get(
    "/evidence/{evidence_id:int}/download",
    summary="Download an evidence file",
    raises=WRITE_ERRORS,
    media_type="application/octet-stream",
)
async def api_download(viewer: CurrentViewer, evidence_id: Id) -> File:
    path, row = await evidence.file_for_download(viewer, evidence_id)
    # the API always answers octet-stream, as documented; the original type and name are
    # in the evidence list
    return _download(path, {**row, "content_type": "application/octet-stream"})


PAGE_ROUTES = [add_to_action, add_to_finding, download, withdraw]
API_ROUTES = [
    api_add_to_action,
    api_add_to_finding,
    api_withdraw,
    api_action_evidence,
    api_download,
]
