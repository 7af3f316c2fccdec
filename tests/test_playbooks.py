"""Playbooks: the shipped content is complete and valid; bad files are named precisely;
proposals answer findings in a sensible order."""

from __future__ import annotations

import pytest

from improve import framework
from improve.plans import playbooks, proposals
from improve.plans.playbooks import THEMES, PlaybookError, parse_text
from improve.plans.proposals import FindingRef

REGULATIONS = ["9", "9A", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "20", "20A"]


def test_one_playbook_per_theme_with_at_least_eight_substantial_actions():
    books = playbooks.standard()
    assert {b.theme for b in books.values()} == set(THEMES)
    for book in books.values():
        assert len(book.actions) >= 8, book.id
        for action in book.actions:
            assert len(action.steps) >= 3 and len(action.why) > 80, action.id
            assert action.evidence and action.regulations, action.id


def test_every_regulation_from_9_to_20a_is_answered_by_some_action():
    answered = {
        r for b in playbooks.standard().values() for a in b.actions for r in a.answers.regulations
    }
    assert set(REGULATIONS) - answered == set()


def test_action_ids_are_unique_across_playbooks():
    ids = [a.id for b in playbooks.standard().values() for a in b.actions]
    assert len(ids) == len(set(ids))


GOOD = """
id: leadership
title: Leadership
version: 2
actions:
  - id: leadership.a-test
    title: Walk the floor
    steps: [one, two, three]
    why: Because being seen matters.
    owner_role: registered_manager
    due_days: 7
    evidence: [a diary]
    measure: audit_score
    regulations: ["17"]
    quality_statements: [well_led.capable_leaders]
    answers: {regulations: ["17"]}
"""


def test_a_valid_file_loads():
    book = parse_text(GOOD, "org.yaml")
    assert book.version == 2 and book.actions[0].answers.regulations == ("17",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("owner_role: registered_manager", "owner_role: cook"),
            "org.yaml (leadership), action 'leadership.a-test': field 'owner_role' must be one of",
        ),
        (("due_days: 7", "due_days: soon"), "action 'leadership.a-test': field 'due_days' must"),
        (
            ('regulations: ["17"]\n    quality', 'regulations: ["77"]\n    quality'),
            "field 'regulations' has unknown values ['77']",
        ),
        (("measure: audit_score", "measure: happiness"), "field 'measure' is not a known"),
        (
            ("    title: Walk the floor\n", ""),
            "action 'leadership.a-test': field 'title' is missing",
        ),
        (
            ('answers: {regulations: ["17"]}', "answers: {service_types: [care_home]}"),
            "'answers' must name a regulation",
        ),
        (("id: leadership.a-test", "id: staffing.a-test"), "field 'id' must look like"),
        (("version: 2", "version: two"), "field 'version' must be a int"),
    ],
)
def test_bad_files_name_file_entry_and_field(change, message):
    with pytest.raises(PlaybookError) as refused:
        parse_text(GOOD.replace(*change), "org.yaml")
    assert message in str(refused.value)


MEDICINES = FindingRef(1, "12", "safe", ("safe.medicines",))
GOVERNANCE = FindingRef(2, "17", "well_led", ("well_led.governance",))


def test_proposals_answer_findings_ranked_with_reasons():
    ranked = proposals.propose(playbooks.standard().values(), [MEDICINES, GOVERNANCE], "care_home")
    assert ranked, "the findings are answered"
    top = ranked[0]
    assert top.score >= 3 and top.reasons
    medicines = [p for p in ranked if 1 in p.finding_ids]
    assert any("Medicines optimisation" in " ".join(p.reasons) for p in medicines)
    assert [p.score for p in ranked] == sorted((p.score for p in ranked), reverse=True)
    assert (
        proposals.uncovered(
            [MEDICINES, GOVERNANCE], {f: [p.template.id] for p in ranked for f in p.finding_ids}
        )
        == []
    )


def test_service_type_rules_are_respected():
    home_care_only = [
        a
        for b in playbooks.standard().values()
        for a in b.actions
        if a.answers.service_types == ("home_care",)
    ]
    assert home_care_only
    action = home_care_only[0]
    finding = FindingRef(
        3,
        action.answers.regulations[0] if action.answers.regulations else "12",
        "safe",
        action.answers.quality_statements,
    )
    for_home = {
        p.template.id
        for p in proposals.propose(playbooks.standard().values(), [finding], "care_home")
    }
    for_agency = {
        p.template.id
        for p in proposals.propose(playbooks.standard().values(), [finding], "home_care")
    }
    assert action.id not in for_home and action.id in for_agency


def test_rerunning_leaves_out_actions_already_in_the_plan():
    first = proposals.propose(playbooks.standard().values(), [MEDICINES], "care_home")
    taken = {first[0].template.id}
    again = proposals.propose(playbooks.standard().values(), [MEDICINES], "care_home", taken)
    assert first[0].template.id not in {p.template.id for p in again}


def test_every_regulation_finding_gets_a_proposal_for_every_service_type():
    fw = framework.get("saf")
    for reg in REGULATIONS:
        for service_type in ("care_home", "care_home_nursing", "home_care", "supported_living"):
            if reg == "9A" and service_type in ("home_care", "supported_living"):
                continue  # visiting in care homes
            items = tuple(i.id for i in fw.items.values() if reg in i.regulations)[:1]
            ranked = proposals.propose(
                playbooks.standard().values(), [FindingRef(9, reg, "safe", items)], service_type
            )
            assert ranked, f"regulation {reg} for {service_type}"
