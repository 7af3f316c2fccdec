"""Actions: status rules, verification by someone else with evidence, notes, optimistic
versions and bulk changes in one transaction."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import log_in, viewer_of

from improve import clock, history
from improve.accounts import people
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Conflict, Forbidden, Invalid
from improve.plans import actions
from improve.plans import domain as plans
from improve.plans.actions import check_status

TODAY = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)


def test_status_rules():
    ok = {"actor_id": 2, "owner_id": 1, "done_by": 1}
    assert check_status("not_started", "in_progress", **ok) == []
    assert "From Not started" in check_status("not_started", "verified", **ok)[0]
    assert check_status("in_progress", "blocked", **ok) == ["Say what is blocking it."]
    assert (
        "Someone other than"
        in check_status("done", "verified", actor_id=1, owner_id=1, done_by=1, evidence="photos")[0]
    )
    assert check_status("done", "verified", **ok) == ["Say what evidence shows it worked."]
    assert check_status("done", "verified", **ok, evidence="Audit 100%") == []
    assert "reopened" in check_status("verified", "in_progress", **ok)[0]


@pytest.fixture
async def plan(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    service = await world.service(provider, manager, (council,))
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
                    "title": "Fix MAR charts",
                    "theme": "person_centred_care",
                    "due_on": "2026-06-01",
                    "owner": manager["id"],
                },
                {"title": "Night staffing review", "theme": "staffing", "due_on": "2026-06-10"},
            ],
        )
    return {
        "manager": me,
        "lead": viewer_of(lead),
        "case": case,
        "actions": rows,
        "commissioner": viewer_of(commissioner),
        "manager_row": manager,
        "lead_row": lead,
    }


async def test_done_then_verified_by_someone_else_with_evidence(plan):
    me, lead = plan["manager"], plan["lead"]
    action = plan["actions"][0]
    with clock.frozen(TODAY):
        done = await actions.update(
            me,
            action["id"],
            {"status": "done", "note": "All charts rewritten"},
            version=action["version"],
        )
        assert done["status"] == "done" and done["done_by"] == me.user_id
        with pytest.raises(Invalid) as refused:
            await actions.update(
                me,
                action["id"],
                {"status": "verified", "evidence": "mine"},
                version=done["version"],
            )
        assert "Someone other than" in refused.value.errors["status"]
        verified = await actions.update(
            lead,
            action["id"],
            {"status": "verified", "evidence": "MAR audit 20 May: no gaps in 4 weeks"},
            version=done["version"],
        )
    assert verified["status"] == "verified" and verified["verified_on"] == TODAY.date()
    assert verified["verification_note"].startswith("MAR audit")
    assert [n["text"] for n in verified["notes"]] == ["All charts rewritten"]
    events = await history.feed(me, plan["case"]["id"], entity="action")
    assert {"changed", "note_added"} <= {e["action"] for e in events}


async def test_concurrent_edits_do_not_overwrite_each_other(plan):
    me, lead = plan["manager"], plan["lead"]
    action = plan["actions"][0]
    await actions.update(me, action["id"], {"status": "in_progress"}, version=action["version"])
    with pytest.raises(Conflict):
        await actions.update(
            lead, action["id"], {"due_on": "2026-07-01"}, version=action["version"]
        )


async def test_blocking_needs_a_reason(plan):
    action = plan["actions"][1]
    with pytest.raises(Invalid) as refused:
        await actions.update(
            plan["manager"], action["id"], {"status": "blocked"}, version=action["version"]
        )
    assert refused.value.errors["status"] == "Say what is blocking it."
    blocked = await actions.update(
        plan["manager"],
        action["id"],
        {"status": "blocked", "reason": "Waiting for the dependency tool licence"},
        version=action["version"],
    )
    assert blocked["blocked_reason"].startswith("Waiting")


async def test_commissioners_cannot_change_actions(plan):
    action = plan["actions"][0]
    with pytest.raises(Forbidden):
        await actions.update(
            plan["commissioner"], action["id"], {"status": "in_progress"}, version=action["version"]
        )
    seen = await actions.get_action(plan["commissioner"], action["id"])
    assert seen["title"] == "Fix MAR charts"


async def test_bulk_reassign_and_move_dates_in_one_transaction(plan):
    me, lead = plan["manager"], plan["lead"]
    ids = [a["id"] for a in plan["actions"]]
    changed = await actions.bulk(me, plan["case"]["id"], ids, owner=lead.user_id, shift_days=7)
    assert changed == 2
    rows = {a["id"]: a for a in await plans.actions_of(me, plan["case"]["id"])}
    assert {r["owner"] for r in rows.values()} == {lead.user_id}
    assert rows[ids[0]]["due_on"] == dt.date(2026, 6, 8)
    with pytest.raises(Invalid):
        await actions.bulk(me, plan["case"]["id"], [*ids, 999_999], shift_days=1)
    unchanged = {a["id"]: a["due_on"] for a in await plans.actions_of(me, plan["case"]["id"])}
    assert unchanged[ids[0]] == dt.date(2026, 6, 8)  # nothing half-written


async def test_owner_must_work_for_the_provider(plan, world):
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    action = plan["actions"][0]
    with pytest.raises(Invalid) as refused:
        await actions.update(
            plan["manager"], action["id"], {"owner": stranger["id"]}, version=action["version"]
        )
    assert "owner" in refused.value.errors
    assert (await people.user(stranger["id"]))["role"] == "quality_lead"


def test_history_lines_name_what_changed_in_words():
    summary = actions._summary
    assert summary("Fix MAR", {"status": "done"}) == "Fix MAR: Done"
    assert summary("Fix MAR", {"due_on": dt.date(2026, 6, 8)}) == (
        "Fix MAR: due date moved to 8 Jun 2026"
    )
    assert summary("Fix MAR", {"owner": 4, "due_on": "2026-06-08"}) == (
        "Fix MAR: changed owner, due date"
    )


def test_an_actions_history_reads_in_words():
    names = {7: "Priya Shah", 8: "Tom Evans"}
    changes = actions.readable_changes(
        {"status": "in_progress", "owner": 7, "due_on": "2026-06-01", "done_by": None},
        {"status": "done", "owner": 8, "due_on": "2026-06-08", "done_by": 8},
        names,
    )
    assert changes == [
        {"label": "Status", "was": "In progress", "now": "Done"},
        {"label": "Owner", "was": "Priya Shah", "now": "Tom Evans"},
        {"label": "Due date", "was": "1 Jun 2026", "now": "8 Jun 2026"},
    ]  # done_by is said by who made the change, not listed again
    gone = actions.readable_changes({"owner": 99}, {"owner": None}, names)
    assert gone == [{"label": "Owner", "was": "someone no longer listed", "now": "not assigned"}]


async def test_the_action_page_shows_who_moved_its_due_date_and_when(plan, client):
    me, lead = plan["manager"], plan["lead"]
    action, other = plan["actions"]
    moved = await actions.update(
        lead, action["id"], {"due_on": "2026-06-15"}, version=action["version"]
    )
    await actions.update(
        me, action["id"], {"status": "in_progress", "note": "Started"}, version=moved["version"]
    )
    await actions.update(me, other["id"], {"due_on": "2026-09-01"}, version=other["version"])
    story = await actions.history_of(me, await actions.get_action(me, action["id"]), {})
    assert [e["who"] for e in story] == [me.name, lead.name, me.name]  # newest first
    assert story[0]["changes"] == [{"label": "Status", "was": "Not started", "now": "In progress"}]
    assert story[1]["changes"] == [{"label": "Due date", "was": "1 Jun 2026", "now": "15 Jun 2026"}]
    assert story[2]["added"]  # the note is listed under Notes, not again here
    await log_in(client, plan["manager_row"])
    page = (await client.get(f"/actions/{action['id']}")).text
    history_part = page.split('id="history-h"')[1]
    assert "Due date: 1 Jun 2026 → 15 Jun 2026" in history_part
    assert "added it to the plan, due 1 Jun 2026" in history_part
    assert "1 Sep 2026" not in history_part  # another action's change is not this one's


def test_the_activity_filter_offers_every_kind_of_thing_a_case_records():
    """Each entity the code records history for is offered (service and measure events
    belong to no case, so a case's activity never holds them)."""
    import re
    from pathlib import Path

    import improve

    source = Path(improve.__file__).parent
    recorded = {
        kind
        for path in source.rglob("*.py")
        for kind in re.findall(r'entity="(\w+)"', path.read_text())
    }
    assert recorded - {"service", "measure"} == set(history.KINDS)


async def test_the_activity_page_filters_to_actions(plan, client):
    action = plan["actions"][0]
    await actions.update(
        plan["manager"], action["id"], {"due_on": "2026-06-15"}, version=action["version"]
    )
    await log_in(client, plan["manager_row"])
    page = (await client.get(f"/cases/{plan['case']['id']}/activity?entity=action")).text
    assert '<option value="action" selected>Actions</option>' in page
    assert "Fix MAR charts: due date moved to 15 Jun 2026" in page and "Case opened" not in page
    # before and after in words, as on the action's own page
    assert "<dt>Due date</dt><dd>1 Jun 2026</dd>" in page
    assert "<dt>Due date</dt><dd>15 Jun 2026</dd>" in page


async def test_the_activity_page_reads_every_kind_of_event_in_words(plan, client):
    """Not only actions: the case opening and its dates read as people write them."""
    await log_in(client, plan["manager_row"])
    page = (await client.get(f"/cases/{plan['case']['id']}/activity")).text
    assert "<dt>Stage</dt><dd>Assessing</dd>" in page
    assert "<dt>Action plan due</dt>" in page
    for stored in ("action_plan_due_on", "expected_reinspection_on", "<dt>stage</dt>"):
        assert stored not in page
    csv = (await client.get(f"/cases/{plan['case']['id']}/activity.csv")).text
    assert "action_plan_due_on" in csv  # the download keeps the audit log exact


async def test_an_owner_who_has_left_is_flagged_and_kept_until_someone_chooses_another(
    plan, client
):
    """A deactivated owner's open actions are named on the plan and the case page; saving
    the action's form keeps them as owner (it used to drop them silently) until a new owner
    is chosen, and someone who has left cannot be chosen anew."""
    me, lead = plan["manager"], plan["lead"]
    action, other = plan["actions"]
    manager = plan["manager_row"]
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    rows = await plans.actions_of(lead, plan["case"]["id"])
    assert [a["owner_left"] for a in rows] == [True, False]  # the other has no owner
    assert [a["id"] for a in plans.owners_left(rows)] == [action["id"]]

    kept = await actions.update(
        lead,
        action["id"],
        {"status": "in_progress", "owner": str(me.user_id), "note": "Picked up"},
        version=action["version"],
    )
    assert kept["owner"] == me.user_id and kept["status"] == "in_progress"
    with pytest.raises(Invalid) as refused:
        await actions.update(lead, other["id"], {"owner": me.user_id}, version=other["version"])
    assert "owner" in refused.value.errors

    await log_in(client, plan["lead_row"])
    page = (await client.get(f"/cases/{plan['case']['id']}/plan")).text
    assert "1 open action is owned by someone who has left" in page
    assert f"({me.name})" in page and "Tick it below and give it a new owner." in page
    case_page = (await client.get(f"/cases/{plan['case']['id']}")).text
    assert "1 open action owned by someone who has left" in case_page
    action_page = (await client.get(f"/actions/{action['id']}")).text
    assert f'<option value="{me.user_id}" selected>{me.name} (has left' in action_page

    await actions.update(lead, action["id"], {"owner": str(lead.user_id)}, version=kept["version"])
    page = (await client.get(f"/cases/{plan['case']['id']}/plan")).text
    assert "owned by someone who has left" not in page


async def test_the_admin_sees_what_a_leaver_holds(plan, world, client):
    from improve.admin import handover

    manager = plan["manager_row"]
    held = await handover.held_by(manager["id"])
    assert [s["id"] for s in held["services"]] == [plan["case"]["service"]]
    assert [(c["case_id"], c["open_actions"]) for c in held["cases"]] == [(plan["case"]["id"], 1)]
    await actions.update(plan["manager"], plan["actions"][0]["id"], {"status": "done"}, version=1)
    assert (await handover.held_by(manager["id"]))["cases"] == []  # done is not held

    await log_in(client, await world.admin())
    page = (await client.get(f"/admin/users/{manager['id']}")).text
    assert "Registered manager of" in page and "Before they leave" in page
    assert f'href="/admin/services/{plan["case"]["service"]}"' in page
    lead_page = (await client.get(f"/admin/users/{plan['lead_row']['id']}")).text
    assert "nothing to hand over" in lead_page


def test_dropping_needs_a_reason_and_can_be_undone():
    ok = {"actor_id": 2, "owner_id": 1, "done_by": None}
    assert "no longer needed" in check_status("in_progress", "dropped", **ok)[0]
    assert check_status("blocked", "dropped", **ok, reason="Merged into another") == []
    assert check_status("not_started", "dropped", **ok, reason="Overtaken") == []
    assert "From Done" in check_status("done", "dropped", **ok, reason="x")[0]
    assert check_status("dropped", "not_started", **ok) == []
    assert "From Dropped" in check_status("dropped", "done", **ok)[0]


async def test_a_dropped_action_stays_on_record_but_out_of_the_plan(plan, client):
    """It keeps why, answers no finding, is never overdue or counted, shows apart on the
    printed plan, and comes back when set to Not started."""
    me = plan["manager"]
    action, other = plan["actions"]
    finding = await cases.add_finding(
        me,
        plan["case"]["id"],
        {"regulation": "12", "key_question": "safe", "description": "MAR gaps"},
    )
    from improve.plans.tables import ActionFinding

    await ActionFinding.insert(ActionFinding(action=action["id"], finding=finding["id"]))
    with clock.frozen(dt.datetime(2026, 6, 20, 9, tzinfo=dt.UTC)):  # both are overdue
        with pytest.raises(Invalid) as refused:
            await actions.update(me, action["id"], {"status": "dropped"}, version=1)
        assert "no longer needed" in refused.value.errors["status"]
        dropped = await actions.update(
            me,
            action["id"],
            {"status": "dropped", "reason": "Merged into the medicines audit"},
            version=1,
        )
        assert dropped["dropped_reason"] == "Merged into the medicines audit"
        assert not dropped["overdue"]
        rows = await plans.actions_of(me, plan["case"]["id"])
        progress = plans.summary(rows, clock.today())
        assert progress["total"] == 1 and [a["id"] for a in progress["dropped"]] == [action["id"]]
        assert [a["id"] for a in progress["overdue"]] == [other["id"]]
        assert finding["id"] not in plans.answered_by(rows)  # it answers nothing now
        printed = await plans.printable(me, plan["case"]["id"])
        assert printed["by_finding"][finding["id"]] == []
        assert [a["id"] for a in printed["dropped"]] == [action["id"]]
        await log_in(client, plan["manager_row"])
        page = (await client.get(f"/cases/{plan['case']['id']}/plan/print")).text
        assert "Actions dropped from the plan" in page and "Merged into the medicines" in page
        csv = await plans.plan_csv(me, plan["case"]["id"])
        assert "Dropped from the plan,Merged into the medicines audit" in csv

        back = await actions.update(
            me, action["id"], {"status": "not_started"}, version=dropped["version"]
        )
    assert back["status"] == "not_started" and back["dropped_reason"] == ""


async def test_the_reason_for_reopening_a_verified_action_is_kept(plan):
    me, lead = plan["manager"], plan["lead"]
    action = plan["actions"][0]
    done = await actions.update(me, action["id"], {"status": "done"}, version=1)
    verified = await actions.update(
        lead, action["id"], {"status": "verified", "evidence": "Audit"}, version=done["version"]
    )
    reopened = await actions.update(
        lead,
        action["id"],
        {"status": "in_progress", "reason": "Two new gaps at the May audit", "note": "On it"},
        version=verified["version"],
    )
    notes = [n["text"] for n in reopened["notes"]]
    assert notes == ["In progress: Two new gaps at the May audit\n\nOn it"]


async def test_too_long_texts_are_named_by_their_own_field(plan):
    action = plan["actions"][0]
    with pytest.raises(Invalid) as refused:
        await actions.update(
            plan["manager"],
            action["id"],
            {"status": "blocked", "reason": "x" * 5001, "note": "y" * 5001},
            version=action["version"],
        )
    assert {"reason", "note"} <= set(refused.value.errors)


async def test_an_action_moved_later_than_first_agreed_shows_as_slipped(plan, client):
    me = plan["manager"]
    action, other = plan["actions"]
    assert action["first_due_on"] == dt.date(2026, 6, 1) and action["slipped_days"] == 0
    moved = await actions.update(me, action["id"], {"due_on": "2026-06-15"}, version=1)
    moved = await actions.update(
        me, action["id"], {"due_on": "2026-07-01"}, version=moved["version"]
    )
    assert moved["slipped_days"] == 30 and moved["first_due_on"] == dt.date(2026, 6, 1)
    earlier = await actions.update(me, other["id"], {"due_on": "2026-06-01"}, version=1)
    assert earlier["slipped_days"] == 0  # brought forward is not slipping
    rows = await plans.actions_of(me, plan["case"]["id"])
    assert [a["id"] for a in plans.summary(rows, TODAY.date())["slipped"]] == [action["id"]]
    await log_in(client, plan["manager_row"])
    page = (await client.get(f"/cases/{plan['case']['id']}/plan")).text
    assert "30 days later than first agreed (1 Jun 2026)" in page
    case_page = (await client.get(f"/cases/{plan['case']['id']}")).text
    assert "1 open action moved later than first agreed" in case_page
    client.cookies.clear()
    await log_in(client, plan["lead_row"])
    briefing = (await client.get(f"/services/{plan['case']['service']}/briefing")).text
    assert "Moved later than first agreed (1)" in briefing
    assert "first due 1 Jun 2026, now 1 Jul 2026 (30 days later)" in briefing
    done = await actions.update(me, action["id"], {"status": "done"}, version=moved["version"])
    assert done["slipped_days"] == 0  # finished: no longer slipping
