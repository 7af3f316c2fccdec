"""Evidence: types checked on the content, size limits, stored outside the database under
random names, downloadable only within scope, nothing written when refused."""

from __future__ import annotations

import io
import zipfile

import pytest
from conftest import api_token, csrf_token, log_in, viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Invalid, NotFound
from improve.evidence import domain as evidence
from improve.evidence.tables import Evidence
from improve.plans import domain as plans

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_types_are_found_from_the_content():
    assert evidence.sniff(PDF) == "application/pdf"
    assert evidence.sniff(PNG) == "image/png"
    assert evidence.sniff(docx()).endswith("wordprocessingml.document")
    assert evidence.sniff(b"name,score\nMAR audit,95\n") == "text/csv"
    assert evidence.sniff(b"Staff meeting notes, 3 May") == "text/plain"
    assert evidence.sniff(b"MZ\x90\x00\x03\x00\x00\x00") is None  # a Windows program
    assert evidence.sniff(b"<html><script>alert(1)</script></html>") is None
    assert evidence.sniff(b"PK\x03\x04not really a zip") is None


def test_names_are_made_safe():
    assert evidence.safe_name("../../etc/passwd") == "passwd"
    assert evidence.safe_name('a"b;c\r\n.pdf') == "a_b_c__.pdf"


@pytest.fixture
async def action(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    await cases.record_rating(
        me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, service["id"])
    finding = await cases.add_finding(
        me,
        case["id"],
        {"regulation": "12", "key_question": "safe", "description": "Gaps in MAR charts."},
    )
    rows = await plans.commit(
        me,
        case["id"],
        [],
        [{"title": "Audit MAR charts", "theme": "person_centred_care", "due_on": "2026-06-01"}],
    )
    return {"manager": manager, "me": me, "action": rows[0], "finding": finding, "case": case}


async def test_a_file_is_stored_outside_the_database_under_a_random_name(action):
    row = await evidence.add(
        action["me"],
        action_id=action["action"]["id"],
        text="April audit",
        file_name="../audit april.pdf",
        content=PDF,
    )
    assert row["kind"] == "file" and row["content_type"] == "application/pdf"
    assert row["file_name"] == "audit april.pdf"
    stored = evidence.upload_dir() / row["stored_name"]
    assert stored.read_bytes() == PDF and "audit" not in row["stored_name"]


async def test_refused_uploads_write_nothing(action):
    from improve.settings import get_settings, override, use

    before = await Evidence.count()
    files_before = set(evidence.upload_dir().iterdir())
    with pytest.raises(Invalid) as refused:
        await evidence.add(
            action["me"],
            action_id=action["action"]["id"],
            file_name="report.pdf",
            content=b"MZ\x90\x00 pretending",
        )
    assert "its content was checked, not its name" in refused.value.errors["file"]
    saved = get_settings()
    override(upload_max_mb=1)
    try:
        with pytest.raises(Invalid, match="larger than 1 MB"):
            await evidence.add(
                action["me"],
                action_id=action["action"]["id"],
                file_name="big.pdf",
                content=PDF + b"0" * (1024 * 1024),
            )
    finally:
        use(saved)
    with pytest.raises(Invalid, match="web address"):
        await evidence.add(
            action["me"], finding_id=action["finding"]["id"], url="javascript:alert(1)"
        )
    assert await Evidence.count() == before
    assert set(evidence.upload_dir().iterdir()) == files_before


async def test_download_only_within_scope(client, action, world):
    row = await evidence.add(
        action["me"], finding_id=action["finding"]["id"], file_name="photo.png", content=PNG
    )
    await log_in(client, action["manager"])
    ok = await client.get(f"/evidence/{row['id']}/download")
    assert ok.status_code == 200 and ok.content == PNG
    assert ok.headers["content-type"].startswith("image/png")
    assert ok.headers["content-disposition"].startswith("attachment")
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    client.cookies.clear()
    await log_in(client, stranger)
    assert (await client.get(f"/evidence/{row['id']}/download")).status_code == 404
    token = await api_token(stranger)
    refused = await client.get(
        f"/api/v1/evidence/{row['id']}/download", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 404


async def test_upload_through_the_page_and_the_api(client, action):
    await log_in(client, action["manager"])
    csrf = await csrf_token(client)
    page = await client.post(
        f"/actions/{action['action']['id']}/evidence",
        data={"_csrf_token": csrf, "text": "Signed policy"},
        files={"file": ("policy.docx", docx(), "application/octet-stream")},
        follow_redirects=False,
    )
    assert page.status_code == 303
    refused = await client.post(
        f"/actions/{action['action']['id']}/evidence",
        data={"_csrf_token": csrf},
        files={"file": ("x.pdf", b"MZ\x90\x00", "application/pdf")},
    )
    assert refused.status_code == 400 and "not a type we accept" in refused.text
    token = await api_token(action["manager"])
    api = await client.post(
        f"/api/v1/actions/{action['action']['id']}/evidence",
        headers={"Authorization": f"Bearer {token}"},
        files={"url": (None, "https://intranet.example/audit")},
    )
    assert api.status_code == 201, api.text
    listed = await client.get(
        f"/api/v1/actions/{action['action']['id']}/evidence",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [e["kind"] for e in listed.json()] == ["file", "link"]


async def test_withdrawn_evidence_keeps_who_when_and_why_and_loses_its_file(action, world):
    from improve import history
    from improve.errors import Conflict

    row = await evidence.add(
        action["me"],
        action_id=action["action"]["id"],
        text="MAR chart for Mrs A Smith",
        file_name="a-smith-mar.pdf",
        content=PDF,
    )
    stored = evidence.upload_dir() / row["stored_name"]
    with pytest.raises(Invalid) as no_reason:
        await evidence.withdraw(action["me"], row["id"], "  ")
    assert "say why" in no_reason.value.errors["reason"]
    assert stored.is_file()  # refused: nothing changed
    stranger = viewer_of(await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD))
    with pytest.raises(NotFound):
        await evidence.withdraw(stranger, row["id"], "not theirs to withdraw")

    gone = await evidence.withdraw(action["me"], row["id"], "A resident's name in the file")
    assert not stored.exists()
    assert gone["withdrawn_by_name"] == action["me"].name
    assert gone["withdrawn_reason"] == "A resident's name in the file"
    assert (gone["text"], gone["file_name"], gone["stored_name"]) == ("", "", "")
    assert gone["kind"] == "file" and gone["size"] == len(PDF)  # what it was stays
    with pytest.raises(Conflict):
        await evidence.withdraw(action["me"], row["id"], "again")
    with pytest.raises(NotFound, match="withdrawn by .*: A resident's name"):
        await evidence.file_for_download(action["me"], row["id"])
    events = await history.feed(action["me"], action["case"]["id"], entity="evidence")
    assert events[0]["action"] == "withdrawn"
    assert events[0]["summary"] == "Evidence withdrawn: A resident's name in the file"


async def test_withdrawing_through_the_page_and_the_api(client, action):
    note = await evidence.add(action["me"], action_id=action["action"]["id"], text="Wrong home")
    link = await evidence.add(
        action["me"], finding_id=action["finding"]["id"], url="https://intranet.example/x"
    )
    await log_in(client, action["manager"])
    page = (await client.get(f"/actions/{action['action']['id']}")).text
    assert f'action="/evidence/{note["id"]}/withdraw"' in page
    csrf = await csrf_token(client)
    refused = await client.post(
        f"/evidence/{note['id']}/withdraw", data={"_csrf_token": csrf, "reason": ""}
    )
    assert refused.status_code == 400
    assert 'href="#f-reason"' in refused.text and 'id="f-reason"' in refused.text
    assert "<details open>" in refused.text and "Wrong home" in refused.text
    done = await client.post(
        f"/evidence/{note['id']}/withdraw",
        data={"_csrf_token": csrf, "reason": "Belongs to another home"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/actions/{action['action']['id']}#evidence"
    page = (await client.get(f"/actions/{action['action']['id']}")).text
    assert "Wrong home" not in page and "Belongs to another home" in page
    assert f'action="/evidence/{note["id"]}/withdraw"' not in page  # once is enough

    token = await api_token(action["manager"])
    auth = {"Authorization": f"Bearer {token}"}
    bad = await client.post(f"/api/v1/evidence/{link['id']}/withdraw", headers=auth, json={})
    assert bad.status_code in (400, 422) and "reason" in bad.text
    api = await client.post(
        f"/api/v1/evidence/{link['id']}/withdraw", headers=auth, json={"reason": "Dead link"}
    )
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["url"] == "" and body["withdrawn_reason"] == "Dead link"
    assert body["withdrawn_by"] == action["me"].name and body["download"] is None
