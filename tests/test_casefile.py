"""The case file: one ZIP with the plan, findings, reviews, measures, evidence files and
history of one case, for whoever can see the case, and nothing withdrawn."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from conftest import api_token, log_in, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import casefile
from improve.cases import domain as cases
from improve.evidence import domain as evidence
from improve.measures import domain as measures
from improve.plans import domain as plans
from improve.reviews import domain as reviews

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
NOW = dt.datetime(2026, 6, 10, 9, tzinfo=dt.UTC)


async def _case(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    service = await world.service(provider, manager, (council,), name="Zoë's House")
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        finding = await cases.add_finding(
            me,
            case["id"],
            {"regulation": "12", "key_question": "safe", "description": "=MAR gaps"},
        )
        rows = await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": "Audit MAR charts",
                    "theme": "person_centred_care",
                    "due_on": "2026-07-01",
                    "finding_ids": [finding["id"]],
                }
            ],
        )
        await reviews.record(
            me,
            case["id"],
            {
                "audience": "internal",
                "held_on": "2026-06-09",
                "overall_rag": "amber",
                "confidence": "medium",
                "notes": "Audits started",
                "attendees": "Mo, Lee",
            },
        )
        await measures.record(me, service["id"], "falls", "2026-05", "4")
        kept = await evidence.add(
            me, action_id=rows[0]["id"], file_name="audit.pdf", content=PDF, text="May audit"
        )
        wrong = await evidence.add(
            me, finding_id=finding["id"], file_name="wrong.pdf", content=PDF + b"x"
        )
        await evidence.withdraw(me, wrong["id"], "Another home's chart")
    return {
        "case": case,
        "me": me,
        "manager": manager,
        "commissioner": commissioner,
        "kept": kept,
        "wrong": wrong,
    }


async def test_the_case_file_holds_the_whole_record(world):
    scene = await _case(world)
    with clock.frozen(NOW):
        made = await casefile.build(scene["me"], scene["case"]["id"])
    assert made.filename.startswith(f"case-{scene['case']['id']}-zoes-house-")
    assert made.filename.endswith("-2026-06-10.zip")
    with zipfile.ZipFile(made.path) as zf:
        names = set(zf.namelist())
        assert {
            "README.txt", "case.txt", "findings.csv", "plan.csv", "reviews.csv",
            "measures.csv", "evidence.csv", "history.csv",
        } <= names  # fmt: skip
        assert f"evidence/{scene['kept']['id']}-audit.pdf" in names
        assert zf.read(f"evidence/{scene['kept']['id']}-audit.pdf") == PDF
        assert not any("wrong" in n for n in names)  # withdrawn: its file is gone
        text = {n: zf.read(n).decode("utf-8-sig") for n in names if not n.startswith("evidence/")}
    assert "Zoë's House" in text["README.txt"] and "Stage: Plan drafted" in text["case.txt"]
    assert "'=MAR gaps" in text["findings.csv"]  # no formula runs in a spreadsheet
    assert "Audit MAR charts" in text["plan.csv"]
    assert "Audits started" in text["reviews.csv"]
    assert "Falls,2026-05,4" in text["measures.csv"]
    assert "Another home's chart" in text["evidence.csv"]
    assert "Case opened" in text["history.csv"]
    zf_bytes = made.path.read_bytes()
    assert zf_bytes.startswith(b"PK")
    made.path.unlink()


async def test_anyone_who_sees_the_case_downloads_it_and_nobody_else(world, client):
    scene = await _case(world)
    case_id = scene["case"]["id"]
    await log_in(client, scene["commissioner"])  # reads the case: may take its file
    page = await client.get(f"/cases/{case_id}/casefile.zip")
    assert page.status_code == 200
    assert page.headers["content-type"] == "application/zip"
    assert "attachment" in page.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(page.content)) as zf:
        assert "plan.csv" in zf.namelist()
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    token = await api_token(stranger)
    refused = await client.get(
        f"/api/v1/cases/{case_id}/casefile", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 404
    token = await api_token(scene["manager"])
    api = await client.get(
        f"/api/v1/cases/{case_id}/casefile", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 200 and api.content.startswith(b"PK")


def test_case_files_left_behind_by_broken_downloads_are_swept(tmp_path, monkeypatch):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = tmp_path / "improve-casefile-old.zip"
    new = tmp_path / "improve-casefile-new.zip"
    other = tmp_path / "someone-elses.zip"
    for f in (old, new, other):
        f.write_bytes(b"PK")
    two_hours_ago = NOW.timestamp() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(other, (two_hours_ago, two_hours_ago))
    os.utime(new, (NOW.timestamp(), NOW.timestamp()))
    with clock.frozen(NOW):
        casefile._sweep()
    assert not old.exists() and new.exists() and other.exists()
