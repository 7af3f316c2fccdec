"""Cases from ratings: opening, findings, stages, rating effects, history, concurrency."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import viewer_of

from improve import clock, history
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.cases.tables import AuditEvent, Case, Finding
from improve.errors import Conflict, Forbidden, Invalid, NotFound

INADEQUATE = {
    "published_on": "2026-04-30",
    "overall": "Inadequate",
    "safe": "Inadequate",
    "effective": "Requires Improvement",
    "caring": "Good",
    "responsive": "Requires improvement",
    "well_led": "Inadequate",
    "enforcement": [
        {"kind": "warning_notice", "regulation": "12", "compliance_due_on": "2026-06-15"}
    ],
}
FINDING = {
    "regulation": "12",
    "key_question": "safe",
    "items": ["safe.medicines", "safe.involving_people_risks"],
    "description": "Medicines were not given as prescribed.",
    "source": "cqc_inspection",
    "severity": "high",
}
TODAY = dt.datetime(2026, 5, 20, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def home(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    service = await world.service(provider, manager, (council,))
    return {
        "service": service,
        "manager": viewer_of(manager),
        "commissioner": viewer_of(commissioner),
        "manager_row": manager,
    }


async def _open(home) -> dict:
    with clock.frozen(TODAY):
        await cases.record_rating(home["manager"], home["service"]["id"], INADEQUATE)
        return await cases.open_case(home["manager"], home["service"]["id"])


async def test_opening_a_case_from_an_inadequate_rating_computes_its_dates(home):
    case = await _open(home)
    assert case["stage"] == "assessing" and case["special_measures"]
    assert case["action_plan_due_on"] == dt.date(2026, 5, 28)
    assert case["expected_reinspection_on"] == dt.date(2026, 10, 30)
    with clock.frozen(TODAY):
        view = await cases.case_view(home["manager"], case["id"])
    labels = [(m.key, m.countdown) for m in view["milestones"]]
    assert ("action_plan_due", "in 8 days") in labels
    assert ("warning_notice", "in 26 days") in labels
    assert ("special_measures", "20 days ago") in labels


async def test_only_one_open_case_per_service(home):
    await _open(home)
    with pytest.raises(Conflict):
        await cases.open_case(home["manager"], home["service"]["id"])


async def test_a_good_rating_does_not_open_a_case(home):
    with clock.frozen(TODAY):
        await cases.record_rating(
            home["manager"],
            home["service"]["id"],
            {"published_on": "2026-04-30", "overall": "Good"},
        )
        with pytest.raises(Invalid) as refused:
            await cases.open_case(home["manager"], home["service"]["id"])
    assert "Inadequate overall or in a key question" in refused.value.errors["rating"]


async def test_recording_the_same_rating_twice_changes_nothing(home):
    with clock.frozen(TODAY):
        _, created, _ = await cases.record_rating(
            home["manager"], home["service"]["id"], INADEQUATE
        )
        _, again, note = await cases.record_rating(
            home["manager"], home["service"]["id"], INADEQUATE
        )
    assert created and not again and "already recorded" in note


async def test_bad_rating_input_names_each_field(home):
    with pytest.raises(Invalid) as refused:
        await cases.record_rating(
            home["manager"],
            home["service"]["id"],
            {
                "published_on": "30/04/2026",
                "overall": "Terrible",
                "safe": "Good",
                "enforcement": [{"kind": "warning_notice"}],
            },
        )
    assert set(refused.value.errors) == {
        "published_on",
        "overall",
        "enforcement[1].compliance_due_on",
    }


async def test_findings_are_validated_against_the_framework(home):
    case = await _open(home)
    with pytest.raises(Invalid) as refused:
        await cases.add_finding(
            home["manager"],
            case["id"],
            {
                "regulation": "99",
                "key_question": "fun",
                "items": ["safe.nonsense"],
                "description": "",
                "source": "rumour",
                "severity": "high",
            },
        )
    assert set(refused.value.errors) == {
        "regulation",
        "key_question",
        "items",
        "description",
        "source",
    }
    finding = await cases.add_finding(home["manager"], case["id"], FINDING)
    assert finding["items"] == ["safe.medicines", "safe.involving_people_risks"]
    assert finding["status"] == "open"


async def test_commissioners_read_but_do_not_change_a_case(home):
    case = await _open(home)
    assert (await cases.get_case(home["commissioner"], case["id"]))["id"] == case["id"]
    with pytest.raises(Forbidden):
        await cases.add_finding(home["commissioner"], case["id"], FINDING)


async def test_people_outside_the_service_cannot_see_its_case(home, world):
    case = await _open(home)
    stranger = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    with pytest.raises(NotFound):
        await cases.get_case(viewer_of(stranger), case["id"])


async def test_stage_moves_are_checked_and_refusals_say_why(home):
    case = await _open(home)
    with pytest.raises(Invalid) as refused:
        await cases.move(home["manager"], case["id"], "plan_drafted", version=case["version"])
    assert "at least one finding" in refused.value.errors["stage"]
    await cases.add_finding(home["manager"], case["id"], FINDING)
    moved = await cases.move(home["manager"], case["id"], "plan_drafted", version=case["version"])
    assert moved["stage"] == "plan_drafted"


async def test_stale_versions_are_refused_not_overwritten(home):
    case = await _open(home)
    await cases.update_dates(
        home["manager"],
        case["id"],
        {"expected_reinspection_on": "2026-11-15"},
        version=case["version"],
    )
    with pytest.raises(Conflict) as refused:
        await cases.update_dates(
            home["manager"],
            case["id"],
            {"expected_reinspection_on": "2026-12-01"},
            version=case["version"],
        )
    assert "Someone else changed this case" in str(refused.value)
    fresh = await cases.get_case(home["manager"], case["id"])
    assert fresh["expected_reinspection_on"] == dt.date(2026, 11, 15)


async def test_a_recovered_rating_moves_the_case_to_sustaining(home):
    case = await _open(home)
    later = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    with clock.frozen(later):
        _, _, note = await cases.record_rating(
            home["manager"],
            home["service"]["id"],
            {
                "published_on": "2026-11-10",
                "overall": "Requires improvement",
                "safe": "Requires improvement",
                "effective": "Good",
                "caring": "Good",
                "responsive": "Good",
                "well_led": "Requires improvement",
            },
        )
    case = await cases.get_case(home["manager"], case["id"])
    assert case["stage"] == "sustaining" and not case["special_measures"]
    assert case["sustain_until"] == dt.date(2027, 11, 10)
    assert "leaves special measures" in note
    with clock.frozen(later):
        closed = await cases.move(
            home["manager"], case["id"], "closed", outcome="improved", version=case["version"]
        )
    assert closed["stage"] == "closed" and closed["outcome"] == "improved"


async def test_every_change_is_in_the_history_with_before_and_after(home):
    case = await _open(home)
    finding = await cases.add_finding(home["manager"], case["id"], FINDING)
    await cases.update_finding(
        home["manager"], finding["id"], {"status": "addressed"}, version=finding["version"]
    )
    events = await history.feed(home["manager"], case["id"])
    actions = [(e["entity"], e["action"]) for e in events]
    assert actions == [("finding", "changed"), ("finding", "added"), ("case", "opened")]
    assert events[0]["before"] == {"status": "open"} and events[0]["after"] == {
        "status": "addressed"
    }
    assert events[0]["actor_name"] == home["manager"].name
    regulation = finding["regulation"]
    assert events[0]["summary"] == f"Regulation {regulation} finding: Addressed"
    assert cases.finding_summary("12", {"severity": "low", "key_question": "safe"}) == (
        "Regulation 12 finding: changed key question, severity"
    )
    only_findings = await history.feed(home["manager"], case["id"], entity="finding")
    assert len(only_findings) == 2


async def test_history_is_written_in_the_same_transaction_as_the_change(home, monkeypatch):
    case = await _open(home)
    findings_before = await Finding.count().where(Finding.case == case["id"])
    events_before = await AuditEvent.count().where(AuditEvent.case == case["id"])

    async def broken(**_):
        raise RuntimeError("history store failed")

    monkeypatch.setattr(history, "record", broken)
    with pytest.raises(RuntimeError):
        await cases.add_finding(home["manager"], case["id"], FINDING)
    assert await Finding.count().where(Finding.case == case["id"]) == findings_before
    assert await AuditEvent.count().where(AuditEvent.case == case["id"]) == events_before


async def test_the_audit_log_cannot_be_changed_or_deleted(home):
    case = await _open(home)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update({AuditEvent.summary: "nothing happened"}, force=True)
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete(force=True)
    assert await AuditEvent.count().where(AuditEvent.case == case["id"]) == 1


async def test_history_exports_as_csv_without_formula_injection(home):
    case = await _open(home)
    await cases.add_finding(
        home["manager"], case["id"], {**FINDING, "description": '=HYPERLINK("http://evil")'}
    )
    text = await history.export_csv(home["manager"], case["id"])
    assert text.splitlines()[0] == "when,who,what,id,action,summary,before,after"
    assert "=HYPERLINK" not in text.replace("'=HYPERLINK", "")
    assert await Case.count().where(Case.id == case["id"]) == 1


async def test_the_watching_period_is_a_setting(home):
    from improve.settings import get_settings, override, use

    saved = get_settings()
    override(sustain_months=6)
    try:
        case = await _open(home)
        with clock.frozen(dt.datetime(2026, 11, 20, tzinfo=dt.UTC)):
            await cases.record_rating(
                home["manager"],
                home["service"]["id"],
                {"published_on": "2026-11-10", "overall": "Good"},
            )
        case = await cases.get_case(home["manager"], case["id"])
        assert case["sustain_until"] == dt.date(2027, 5, 10)
    finally:
        use(saved)


async def test_a_finding_recorded_in_error_is_withdrawn_with_a_reason(home, client):
    """It stays on the record, but no longer needs an action: the plan can be agreed
    without answering it, and it is listed apart on the case page."""
    from conftest import log_in

    from improve.plans import domain as plans

    me = home["manager"]
    case = await _open(home)
    kept = await cases.add_finding(me, case["id"], FINDING)
    twin = await cases.add_finding(me, case["id"], FINDING)  # entered twice by mistake
    with clock.frozen(TODAY):
        await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": "Fix MAR charts",
                    "theme": "person_centred_care",
                    "due_on": "2026-06-01",
                    "finding_ids": [kept["id"]],
                }
            ],
        )
    case = await cases.get_case(me, case["id"])
    assert case["stage"] == "plan_drafted"  # committing a plan drafts it
    with pytest.raises(Invalid) as unanswered:
        await cases.move(me, case["id"], "plan_agreed", version=case["version"])
    assert "finding" in unanswered.value.errors["stage"]

    with pytest.raises(Invalid) as no_reason:
        await cases.update_finding(me, twin["id"], {"status": "withdrawn"}, version=1)
    assert set(no_reason.value.errors) == {"withdrawn_reason"}
    gone = await cases.update_finding(
        me,
        twin["id"],
        {"status": "withdrawn", "withdrawn_reason": "Entered twice"},
        version=1,
    )
    assert gone["withdrawn_reason"] == "Entered twice"
    events = await history.feed(me, case["id"], entity="finding", entity_id=twin["id"])
    assert events[0]["summary"] == "Regulation 12 finding: Withdrawn (recorded in error)"
    agreed = await cases.move(me, case["id"], "plan_agreed", version=case["version"])
    assert agreed["stage"] == "plan_agreed"
    coverage = plans._coverage(await cases.findings_of(me, case["id"]), [])
    assert [c["finding"]["id"] for c in coverage] == [kept["id"]]

    await log_in(client, home["manager_row"])
    page = (await client.get(f"/cases/{case['id']}")).text
    assert "Findings (1)" in page and "Withdrawn as recorded in error (1)" in page
    assert "Why: Entered twice" in page
    back = await cases.update_finding(me, twin["id"], {"status": "open"}, version=gone["version"])
    assert back["withdrawn_reason"] == ""  # reopened: the reason no longer applies
