"""Organisations' own playbooks: validated like ours, seen only by their people, used by
the plan builder for their services, every version kept."""

from __future__ import annotations

import pytest
from conftest import viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.errors import Forbidden, Invalid, NotFound
from improve.plans import domain as plans
from improve.plans import org_playbooks

OWN = """
id: oak-falls
theme: person_centred_care
title: Oak falls programme
version: 1
summary: Our own way with falls.
actions:
  - id: person_centred_care.oak-falls-huddle
    title: Daily falls huddle
    steps: [Review yesterday's falls, Agree who needs a sensor mat, Tell the night staff]
    why: Falls fell by a third when we started talking about them every day.
    owner_role: registered_manager
    due_days: 7
    evidence: [Huddle log]
    measure: falls
    regulations: ["12"]
    quality_statements: [safe.involving_people_risks]
    answers: {quality_statements: [safe.involving_people_risks]}
"""


@pytest.fixture
async def oak(world):
    provider = await world.org(OrgKind.PROVIDER, "Oak")
    lead = viewer_of(await world.user(provider, Role.QUALITY_LEAD))
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    return {"provider": provider, "lead": lead, "manager": viewer_of(manager), "service": service}


async def test_a_quality_lead_adds_a_playbook_only_their_people_see(oak, world):
    result = await org_playbooks.upload(oak["lead"], OWN, "falls.yaml")
    assert result == {"playbook_id": "oak-falls", "version": 1, "created": True}
    seen = await org_playbooks.visible_to(oak["manager"])
    assert [b.id for b in seen] == ["oak-falls"]
    other = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    assert await org_playbooks.visible_to(viewer_of(other)) == []
    with pytest.raises(NotFound):
        await org_playbooks.get(viewer_of(other), "oak-falls")


async def test_the_builder_proposes_the_organisations_actions(oak):
    await org_playbooks.upload(oak["lead"], OWN, "falls.yaml")
    me = oak["manager"]
    await cases.record_rating(
        me, oak["service"]["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, oak["service"]["id"])
    await cases.add_finding(
        me,
        case["id"],
        {
            "regulation": "12",
            "key_question": "safe",
            "items": ["safe.involving_people_risks"],
            "description": "Falls were not reviewed.",
        },
    )
    view = await plans.builder(me, case["id"])
    ids = [p.template.id for p in view["proposals"]]
    assert "person_centred_care.oak-falls-huddle" in ids
    rows = await plans.commit(
        me, case["id"], [{"template_id": "person_centred_care.oak-falls-huddle"}]
    )
    assert rows[0]["playbook_id"] == "oak-falls" and rows[0]["playbook_version"] == 1
    plan = await plans.plan_of(case["id"])
    assert plan["playbook_versions"]["oak-falls"] == 1


async def test_versions_must_rise_and_same_upload_changes_nothing(oak):
    await org_playbooks.upload(oak["lead"], OWN, "falls.yaml")
    again = await org_playbooks.upload(oak["lead"], OWN, "falls.yaml")
    assert again["created"] is False
    with pytest.raises(Invalid, match="not newer"):
        await org_playbooks.upload(oak["lead"], OWN.replace("Daily", "Twice-daily"), "f.yaml")
    newer = await org_playbooks.upload(
        oak["lead"],
        OWN.replace("version: 1", "version: 2").replace("Daily", "Twice-daily"),
        "f.yaml",
    )
    assert newer["version"] == 2
    (book,) = await org_playbooks.visible_to(oak["lead"])
    assert book.version == 2 and book.actions[0].title == "Twice-daily falls huddle"


async def test_bad_files_are_named_and_clashes_refused(oak):
    with pytest.raises(Invalid) as refused:
        await org_playbooks.upload(
            oak["lead"], OWN.replace("due_days: 7", "due_days: x"), "falls.yaml"
        )
    assert (
        "falls.yaml (oak-falls), action 'person_centred_care.oak-falls-huddle': field "
        "'due_days' must be a int" in refused.value.errors["file"]
    )
    with pytest.raises(Invalid, match="comes with improve"):
        await org_playbooks.upload(
            oak["lead"],
            OWN.replace("id: oak-falls", "id: leadership").replace(
                "theme: person_centred_care", "theme: person_centred_care"
            ),
            "x.yaml",
        )


async def test_only_quality_leads_upload(oak):
    with pytest.raises(Forbidden):
        await org_playbooks.upload(oak["manager"], OWN)
