"""Through the JSON API: from an Inadequate rating to a case with findings and timeline."""

from __future__ import annotations

from conftest import api_token

from improve.accounts.tables import OrgKind, Role


async def test_rating_to_case_with_findings_through_the_api(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    auth = {"Authorization": f"Bearer {await api_token(manager)}"}
    sid = service["id"]

    rating = await client.post(
        f"/api/v1/services/{sid}/ratings",
        headers=auth,
        json={
            "published_on": "2026-04-30",
            "overall": "Inadequate",
            "safe": "Inadequate",
            "well_led": "Inadequate",
            "enforcement": [
                {"kind": "warning_notice", "regulation": "17", "compliance_due_on": "2026-07-01"}
            ],
        },
    )
    assert rating.status_code == 201, rating.text
    assert rating.json()["created"] is True
    case = await client.post(f"/api/v1/services/{sid}/cases", headers=auth)
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    assert case.json()["special_measures"] is True

    finding = await client.post(
        f"/api/v1/cases/{case_id}/findings",
        headers=auth,
        json={
            "regulation": "17",
            "key_question": "well_led",
            "items": ["well_led.governance"],
            "description": "Audits missed the shortfalls.",
        },
    )
    assert finding.status_code == 201, finding.text
    bad = await client.post(
        f"/api/v1/cases/{case_id}/findings",
        headers=auth,
        json={
            "regulation": "17",
            "key_question": "well_led",
            "items": ["nope"],
            "description": "x",
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items"

    detail = (await client.get(f"/api/v1/cases/{case_id}", headers=auth)).json()
    keys = [m["key"] for m in detail["timeline"]]
    assert {
        "published",
        "special_measures",
        "action_plan_due",
        "warning_notice",
        "reinspection",
    } <= set(keys)
    assert detail["findings"] == 1
    drafted = next(m for m in detail["moves"] if m["stage"] == "plan_drafted")
    assert drafted["allowed"] is True

    stale = await client.patch(
        f"/api/v1/cases/{case_id}",
        headers=auth,
        json={"version": 99, "expected_reinspection_on": "2026-12-01"},
    )
    assert stale.status_code == 409
    moved = await client.post(
        f"/api/v1/cases/{case_id}/stage",
        headers=auth,
        json={"stage": "plan_drafted", "version": detail["case"]["version"]},
    )
    assert moved.status_code == 201 and moved.json()["stage"] == "plan_drafted"

    history = (await client.get(f"/api/v1/cases/{case_id}/history?limit=2", headers=auth)).json()
    assert history["total"] == 3 and len(history["items"]) == 2
    assert history["items"][0]["action"] == "stage_changed"

    listed = (await client.get("/api/v1/services?stage=plan_drafted", headers=auth)).json()
    assert [s["id"] for s in listed["items"]] == [sid]
    assert listed["items"][0]["latest_rating"] == "inadequate"
    frameworks = (await client.get("/api/v1/frameworks", headers=auth)).json()
    assert len(frameworks[0]["items"]) == 34


async def test_pagination_is_stable(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    for n in range(5):
        await world.service(provider, name=f"Same name {n % 2}")
    auth = {"Authorization": f"Bearer {await api_token(lead)}"}
    pages = []
    for offset in (0, 2, 4):
        body = (await client.get(f"/api/v1/services?limit=2&offset={offset}", headers=auth)).json()
        assert body["total"] == 5
        pages += [s["id"] for s in body["items"]]
    assert len(pages) == len(set(pages)) == 5


async def test_plan_through_the_api(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    auth = {"Authorization": f"Bearer {await api_token(manager)}"}
    await client.post(
        f"/api/v1/services/{service['id']}/ratings",
        headers=auth,
        json={"published_on": "2026-04-30", "overall": "Inadequate"},
    )
    case_id = (await client.post(f"/api/v1/services/{service['id']}/cases", headers=auth)).json()[
        "id"
    ]
    finding = (
        await client.post(
            f"/api/v1/cases/{case_id}/findings",
            headers=auth,
            json={
                "regulation": "16",
                "key_question": "responsive",
                "description": "Complaints lost.",
            },
        )
    ).json()
    proposals = (await client.get(f"/api/v1/cases/{case_id}/plan/proposals", headers=auth)).json()
    assert proposals and proposals[0]["finding_ids"] == [finding["id"]]
    assert "regulation 16" in " ".join(proposals[0]["reasons"])
    refused = await client.post(
        f"/api/v1/cases/{case_id}/plan/actions",
        headers=auth,
        json={"actions": [{"template_id": "nope.nothing"}]},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "actions[1].template_id"
    plan = await client.post(
        f"/api/v1/cases/{case_id}/plan/actions",
        headers=auth,
        json={
            "actions": [{"template_id": proposals[0]["template_id"], "due_on": "2026-06-30"}],
            "custom": [
                {
                    "title": "Complaints log at reception",
                    "theme": "cultural_change",
                    "due_on": "2026-06-01",
                    "finding_ids": [finding["id"]],
                }
            ],
        },
    )
    assert plan.status_code == 201, plan.text
    body = plan.json()
    assert len(body["actions"]) == 2 and body["uncovered"] == 0
    assert body["coverage"][0]["covered"] is True


async def test_from_findings_to_a_verified_plan_through_the_api(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, manager)
    me = {"Authorization": f"Bearer {await api_token(manager)}"}
    checker = {"Authorization": f"Bearer {await api_token(lead)}"}
    sid = service["id"]
    await client.post(
        f"/api/v1/services/{sid}/ratings",
        headers=me,
        json={"published_on": "2026-04-30", "overall": "Inadequate"},
    )
    case = (await client.post(f"/api/v1/services/{sid}/cases", headers=me)).json()
    await client.post(
        f"/api/v1/cases/{case['id']}/findings",
        headers=me,
        json={
            "regulation": "17",
            "key_question": "well_led",
            "items": ["well_led.governance"],
            "description": "No working audits.",
        },
    )
    proposals = (await client.get(f"/api/v1/cases/{case['id']}/plan/proposals", headers=me)).json()
    plan = (
        await client.post(
            f"/api/v1/cases/{case['id']}/plan/actions",
            headers=me,
            json={
                "actions": [{"template_id": proposals[0]["template_id"], "owner": manager["id"]}]
            },
        )
    ).json()
    assert plan["uncovered"] == 0
    detail = (await client.get(f"/api/v1/cases/{case['id']}", headers=me)).json()
    agreed = await client.post(
        f"/api/v1/cases/{case['id']}/stage",
        headers=me,
        json={"stage": "plan_agreed", "version": detail["case"]["version"]},
    )
    assert agreed.status_code == 201 and agreed.json()["stage"] == "plan_agreed"

    action = plan["actions"][0]
    proof = await client.post(
        f"/api/v1/actions/{action['id']}/evidence",
        headers=me,
        files={"file": ("audit.pdf", b"%PDF-1.4 audit", "application/pdf")},
    )
    assert proof.status_code == 201
    done = await client.patch(
        f"/api/v1/actions/{action['id']}",
        headers=me,
        json={"version": action["version"], "status": "done"},
    )
    assert done.status_code == 200, done.text
    self_check = await client.patch(
        f"/api/v1/actions/{action['id']}",
        headers=me,
        json={"version": done.json()["action"]["version"], "status": "verified", "evidence": "me"},
    )
    assert self_check.status_code == 422
    verified = await client.patch(
        f"/api/v1/actions/{action['id']}",
        headers=checker,
        json={
            "version": done.json()["action"]["version"],
            "status": "verified",
            "evidence": "Audit file read; three audits completed with actions.",
        },
    )
    assert verified.status_code == 200 and verified.json()["action"]["status"] == "verified"
    exported = await client.get(f"/api/v1/cases/{case['id']}/plan/export", headers=me)
    assert exported.status_code == 200 and "Verified" in exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    assert not exported.text.startswith("\ufeff")  # scripts get the bare file
