"""The plan builder: proposals for findings, adapt and commit in one transaction,
coverage, re-running after new findings, and agreeing the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Invalid
from improve.plans import domain as plans
from improve.plans import playbooks
from improve.plans.tables import Action, Plan

TODAY = dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC)
MEDICINES = {
    "regulation": "12",
    "key_question": "safe",
    "items": ["safe.medicines"],
    "description": "MAR charts had gaps.",
}
GOVERNANCE = {
    "regulation": "17",
    "key_question": "well_led",
    "items": ["well_led.governance"],
    "description": "Audits missed the shortfalls.",
}


@pytest.fixture
async def case(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = viewer_of(await world.user(provider, Role.REGISTERED_MANAGER))
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, await _user(manager))
    with clock.frozen(TODAY):
        await cases.record_rating(
            manager, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        opened = await cases.open_case(manager, service["id"])
        medicines = await cases.add_finding(manager, opened["id"], MEDICINES)
    return {"case": opened, "manager": manager, "lead": lead, "medicines": medicines}


async def _user(viewer):
    from improve.accounts import people

    return await people.user(viewer.user_id)


async def test_builder_proposes_actions_with_reasons_and_flags_uncovered_findings(case):
    with clock.frozen(TODAY):
        view = await plans.builder(case["manager"], case["case"]["id"])
    assert view["proposals"] and all(p.reasons for p in view["proposals"])
    assert view["proposals"][0].finding_ids == (case["medicines"]["id"],)
    assert [c["actions"] for c in view["coverage"]] == [[]]  # uncovered until committed


async def test_commit_adapts_and_adds_custom_actions_in_one_transaction(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        view = await plans.builder(manager, case_id)
        first = view["proposals"][0].template
        actions = await plans.commit(
            manager,
            case_id,
            [
                {
                    "template_id": first.id,
                    "title": "Our own words for it",
                    "due_on": "2026-06-01",
                    "owner": case["lead"]["id"],
                },
            ],
            [
                {
                    "title": "Weekly medicines huddle",
                    "theme": "cultural_change",
                    "due_on": "2026-05-27",
                    "finding_ids": [case["medicines"]["id"]],
                }
            ],
        )
    assert [a["title"] for a in actions] == ["Weekly medicines huddle", "Our own words for it"]
    adapted = actions[1]
    assert adapted["template_id"] == first.id and adapted["owner"] == case["lead"]["id"]
    assert adapted["playbook_version"] == playbooks.standard()[first.theme].version
    assert adapted["finding_ids"] == [case["medicines"]["id"]]
    plan = await plans.plan_of(case_id)
    assert plan["playbook_versions"][first.theme] == adapted["playbook_version"]
    moved = await cases.get_case(manager, case_id)
    assert moved["stage"] == "plan_drafted"  # the first plan moves an assessing case on


async def test_a_bad_item_writes_nothing_and_is_named(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        view = await plans.builder(manager, case_id)
        with pytest.raises(Invalid) as refused:
            await plans.commit(
                manager,
                case_id,
                [
                    {"template_id": view["proposals"][0].template.id},
                    {"template_id": "leadership.no-such-thing"},
                ],
                [{"title": "", "theme": "staffing", "due_on": "2026-06-01"}],
            )
    assert set(refused.value.errors) == {"actions[2].template_id", "custom[1].title"}
    assert await Action.count().where(Action.plan.case == case_id) == 0
    assert await Plan.count().where(Plan.case == case_id) == 0


async def test_owners_must_work_for_the_provider(case, world):
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    with clock.frozen(TODAY), pytest.raises(Invalid) as refused:
        await plans.commit(
            case["manager"],
            case["case"]["id"],
            [],
            [{"title": "x", "theme": "staffing", "due_on": "2026-06-01", "owner": stranger["id"]}],
        )
    assert "custom[1].owner" in refused.value.errors


async def test_rerunning_after_new_findings_adds_proposals_and_keeps_the_plan(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        view = await plans.builder(manager, case_id)
        chosen = view["proposals"][0].template.id
        await plans.commit(manager, case_id, [{"template_id": chosen}])
        before = await plans.actions_of(manager, case_id)
        await cases.add_finding(manager, case_id, GOVERNANCE)
        again = await plans.builder(manager, case_id)
        after = await plans.actions_of(manager, case_id)
    assert chosen not in {p.template.id for p in again["proposals"]}
    assert any("Good governance" in " ".join(p.reasons) for p in again["proposals"])
    assert after == before
    uncovered = [c for c in again["coverage"] if not c["actions"]]
    assert [c["finding"]["regulation"] for c in uncovered] == ["17"]


async def test_a_plan_cannot_be_agreed_while_a_finding_is_unanswered(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        view = await plans.builder(manager, case_id)
        await plans.commit(manager, case_id, [{"template_id": view["proposals"][0].template.id}])
        await cases.add_finding(manager, case_id, GOVERNANCE)
        current = await cases.get_case(manager, case_id)
        with pytest.raises(Invalid) as refused:
            await cases.move(manager, case_id, "plan_agreed", version=current["version"])
        assert "1 finding has no action" in refused.value.errors["stage"]
        again = await plans.builder(manager, case_id)
        await plans.commit(manager, case_id, [{"template_id": again["proposals"][0].template.id}])
        current = await cases.get_case(manager, case_id)
        agreed = await cases.move(manager, case_id, "plan_agreed", version=current["version"])
    assert agreed["stage"] == "plan_agreed"


async def test_overdue_is_derived_from_the_due_date(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        await plans.commit(
            manager,
            case_id,
            [],
            [{"title": "Late thing", "theme": "staffing", "due_on": "2026-05-25"}],
        )
    with clock.frozen(TODAY + dt.timedelta(days=3)):
        assert not (await plans.actions_of(manager, case_id))[0]["overdue"]
    with clock.frozen(TODAY + dt.timedelta(days=10)):
        assert (await plans.actions_of(manager, case_id))[0]["overdue"]


async def test_summary_my_actions_csv_and_printable_plan(case):
    manager, case_id = case["manager"], case["case"]["id"]
    with clock.frozen(TODAY):
        rows = await plans.commit(
            manager,
            case_id,
            [],
            [
                {
                    "title": "=cmd|' /C calc'!A0",
                    "theme": "staffing",
                    "due_on": "2026-05-22",
                    "owner": manager.user_id,
                    "finding_ids": [case["medicines"]["id"]],
                },
                {
                    "title": "Later thing",
                    "theme": "leadership",
                    "due_on": "2026-07-01",
                    "owner": manager.user_id,
                },
            ],
        )
        summary = plans.summary(rows, TODAY.date())
        assert summary["total"] == 2 and [a["title"] for a in summary["due_this_week"]] == [
            "=cmd|' /C calc'!A0"
        ]
        mine = await plans.my_actions(manager)
        assert [a["title"] for a in mine["mine"]] == ["=cmd|' /C calc'!A0", "Later thing"]
        printable = await plans.printable(manager, case_id)
        assert [a["title"] for a in printable["unlinked"]] == ["Later thing"]
        csv_text = await plans.plan_csv(manager, case_id)
    assert csv_text.splitlines()[0].startswith("breach,what was found,what we will do")
    assert "'=cmd" in csv_text  # a formula is kept as text
