"""An owner cannot verify their own action by reassigning it in the same request:
verification is judged against the owner before the change (and the person who did it),
on the page form, the API PATCH and in the domain; and a verified action is never given
to the person who verified it (one at a time or in bulk), so "verified by someone other
than the owner" stays true."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import api_token, csrf_token, log_in, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Invalid
from improve.plans import actions
from improve.plans import domain as plans

TODAY = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)
PROOF = "Audit of 20 charts: no gaps"


@pytest.fixture
async def plan(world):
    """Manager Mo owns three actions, each done by Dee; Dee and Quinn lead quality."""
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Mo Manager")
    doer = await world.user(provider, Role.QUALITY_LEAD, name="Dee Doer")
    lead = await world.user(provider, Role.QUALITY_LEAD, name="Quinn Lead")
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    with clock.frozen(TODAY):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        rows = await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": f"Action {n}",
                    "theme": "staffing",
                    "due_on": "2026-06-01",
                    "owner": manager["id"],
                }
                for n in range(3)
            ],
        )
        for row in rows:
            await actions.update(viewer_of(doer), row["id"], {"status": "done"}, version=1)
    return {
        "case": case,
        "ids": [r["id"] for r in rows],
        "manager": manager,
        "doer": doer,
        "lead": lead,
    }


def _errors(response) -> dict[str, str]:
    """The API's refusal, field by field."""
    return {e["field"]: e["message"] for e in response.json()["errors"]}


async def _action(user: dict, action_id: int) -> dict:
    return await actions.get_action(viewer_of(user), action_id)


async def test_the_owner_cannot_hand_it_on_and_verify_it_at_once(plan):
    mo, quinn = plan["manager"], plan["lead"]
    action_id = plan["ids"][0]
    with clock.frozen(TODAY), pytest.raises(Invalid) as refused:
        await actions.update(
            viewer_of(mo),
            action_id,
            {"owner": str(quinn["id"]), "status": "verified", "evidence": PROOF},
            version=2,
        )
    assert "Someone other than the owner" in refused.value.errors["status"]
    row = await _action(mo, action_id)
    assert row["status"] == "done" and row["owner"] == mo["id"]  # nothing half-written


async def test_the_page_form_refuses_it_naming_the_field(app, client, plan):
    mo, quinn = plan["manager"], plan["lead"]
    action_id = plan["ids"][0]
    await log_in(client, mo)
    csrf = await csrf_token(client)
    with clock.frozen(TODAY):
        page = await client.post(
            f"/actions/{action_id}",
            data={
                "_csrf_token": csrf,
                "version": "2",
                "owner": str(quinn["id"]),
                "status": "verified",
                "evidence": PROOF,
            },
        )
    assert page.status_code == 400
    assert 'href="#f-status"' in page.text
    assert "Someone other than the owner" in page.text
    row = await _action(mo, action_id)
    assert row["status"] == "done" and row["owner"] == mo["id"]


async def test_the_api_refuses_it_naming_the_field(client, plan):
    mo, quinn = plan["manager"], plan["lead"]
    action_id = plan["ids"][0]
    auth = {"Authorization": f"Bearer {await api_token(mo)}"}
    with clock.frozen(TODAY):
        response = await client.patch(
            f"/api/v1/actions/{action_id}",
            headers=auth,
            json={"version": 2, "owner": quinn["id"], "status": "verified", "evidence": PROOF},
        )
    assert response.status_code == 422, response.text  # the API's answer to bad input
    assert "Someone other than the owner" in _errors(response)["status"]
    row = await _action(mo, action_id)
    assert row["status"] == "done" and row["owner"] == mo["id"]


async def test_someone_else_may_still_verify_and_hand_it_on_at_once(plan):
    """The rule is about who verifies, not about handing on: the quality lead verifies
    and gives the finished action to the doer in one request."""
    mo, dee, quinn = plan["manager"], plan["doer"], plan["lead"]
    action_id = plan["ids"][0]
    with clock.frozen(TODAY):
        row = await actions.update(
            viewer_of(quinn),
            action_id,
            {"owner": str(dee["id"]), "status": "verified", "evidence": PROOF},
            version=2,
        )
    assert row["status"] == "verified" and row["owner"] == dee["id"]
    # nor can someone verify while taking the action for themselves
    with clock.frozen(TODAY), pytest.raises(Invalid) as refused:
        await actions.update(
            viewer_of(quinn),
            plan["ids"][1],
            {"owner": str(quinn["id"]), "status": "verified", "evidence": PROOF},
            version=2,
        )
    assert "status" in refused.value.errors
    assert (await _action(mo, plan["ids"][1]))["owner"] == mo["id"]


async def test_a_verified_action_is_not_given_to_who_verified_it(app, client, plan):
    mo, quinn = plan["manager"], plan["lead"]
    first, second, third = plan["ids"]
    with clock.frozen(TODAY):
        for action_id in (first, second):
            await actions.update(
                viewer_of(quinn),
                action_id,
                {"status": "verified", "evidence": PROOF},
                version=2,
            )
    # one at a time (domain, page, API) ...
    with pytest.raises(Invalid) as refused:
        await actions.update(viewer_of(mo), first, {"owner": str(quinn["id"])}, version=3)
    assert "verified it" in refused.value.errors["owner"]
    await log_in(client, mo)
    csrf = await csrf_token(client)
    page = await client.post(
        f"/actions/{first}",
        data={"_csrf_token": csrf, "version": "3", "owner": str(quinn["id"])},
    )
    assert page.status_code == 400 and "verified it" in page.text
    assert 'href="#f-owner"' in page.text
    auth = {"Authorization": f"Bearer {await api_token(mo)}"}
    response = await client.patch(
        f"/api/v1/actions/{first}", headers=auth, json={"version": 3, "owner": quinn["id"]}
    )
    assert response.status_code == 422 and "verified it" in _errors(response)["owner"]
    # ... or in bulk: all or nothing, naming the field
    with pytest.raises(Invalid) as refused:
        await actions.bulk(viewer_of(mo), plan["case"]["id"], [second, third], owner=quinn["id"])
    assert "owner" in refused.value.errors
    response = await client.post(
        f"/api/v1/cases/{plan['case']['id']}/plan/bulk",
        headers=auth,
        json={"action_ids": [second, third], "owner": quinn["id"]},
    )
    assert response.status_code == 422 and "verified it" in _errors(response)["owner"]
    page = await client.post(
        f"/cases/{plan['case']['id']}/plan/bulk",
        data={"_csrf_token": csrf, "action": [str(second), str(third)], "owner": str(quinn["id"])},
    )
    assert page.status_code == 400 and 'href="#f-owner"' in page.text
    for action_id in (first, second, third):
        assert (await _action(mo, action_id))["owner"] == mo["id"]
    # the unverified one can go to the quality lead, in bulk too
    assert await actions.bulk(viewer_of(mo), plan["case"]["id"], [third], owner=quinn["id"]) == 1
    assert (await _action(mo, third))["owner"] == quinn["id"]
