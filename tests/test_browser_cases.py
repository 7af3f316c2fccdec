"""A manager goes from a CQC record to a case with findings and a timeline, in Chromium."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from browser_support import log_in_with_form, visit
from conftest import PASSWORD

from improve.accounts.tables import OrgKind, Role
from improve.services.tables import Service

pytestmark = pytest.mark.browser
DATA = Path(__file__).parent / "data"


@pytest.fixture
async def manager_and_home(world):
    provider = await world.org(OrgKind.PROVIDER, "Turnaround Care")
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Morgan Price")
    home = await world.service(provider, manager, name="Example House")
    return manager, home


async def test_manager_imports_a_record_opens_a_case_and_adds_findings(
    page, manager_and_home, tmp_path
):
    manager, home = manager_and_home
    record = json.loads((DATA / "cqc_location_inadequate.json").read_text())
    record["locationId"] = "1-" + str(secrets.randbelow(10**9)).zfill(9)
    record["providerId"] = "1-" + str(secrets.randbelow(10**9)).zfill(9)
    # an administrator has linked the home to its CQC location (only they can)
    await Service.update({Service.cqc_location_id: record["locationId"]}).where(
        Service.id == home["id"]
    )
    upload = tmp_path / "location.json"
    upload.write_text(json.dumps(record))

    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/services/{home['id']}")
    await page.get_by_label("Import the CQC record").set_input_files(str(upload))
    await page.get_by_role("button", name="Import", exact=True).click()
    await page.wait_for_load_state("networkidle")
    main = page.locator("main")
    assert "CQC record imported" in await main.inner_text()
    assert "2 ratings added" in await main.inner_text()
    await visit(page, "service-imported")

    await page.get_by_role("button", name="Open an improvement case").click()
    await page.wait_for_load_state("networkidle")
    text = await main.inner_text()
    assert "improvement case" in text and "Special measures" in text
    for label in ("Report published", "Action plan due to CQC", "Expected re-inspection"):
        assert label in text
    await visit(page, "case-new")

    await page.get_by_role("link", name="Add a finding").click()
    await page.get_by_role("button", name="Add finding", exact=True).click()  # nothing filled in
    await page.wait_for_load_state("networkidle")
    assert "There is a problem" in await main.inner_text()
    await visit(page, "finding-errors")
    await page.get_by_label("Regulation breached").select_option("12")
    await page.get_by_label("Key question").select_option("safe")
    await page.locator("summary").filter(has_text="Safe").first.click()  # open Safe statements
    await page.get_by_label("Medicines optimisation").check()
    await page.get_by_label("What was found").fill(
        "Medicines were not given as prescribed to three people."
    )
    await visit(page, "finding-form")
    await page.get_by_role("button", name="Add finding", exact=True).click()
    await page.wait_for_load_state("networkidle")
    text = await main.inner_text()
    assert "Findings (1)" in text and "Medicines were not given as prescribed" in text
    assert "Reg 12: 1" in text
    await visit(page, "case-with-finding")

    await page.get_by_role("button", name="Move to Plan drafted").click()
    await page.wait_for_load_state("networkidle")
    assert "Stage: Plan drafted" in await main.inner_text()
    await page.get_by_role("link", name="All activity").click()
    await page.wait_for_load_state("networkidle")
    activity = await main.inner_text()
    assert "Finding added" in activity and "Case opened" in activity
    await visit(page, "case-activity")


async def test_a_location_rated_per_service_type_with_no_registered_manager(
    page, manager_and_home, tmp_path
):
    manager, home = manager_and_home
    record = json.loads((DATA / "cqc_shapes" / "service_types_inadequate_last.json").read_text())
    record["locationId"] = "1-" + str(secrets.randbelow(10**9)).zfill(9)
    record["providerId"] = "1-" + str(secrets.randbelow(10**9)).zfill(9)
    record["registeredManagerAbsentDate"] = "2026-01-20"
    record["unpublishedReports"] = [{"firstVisitDate": "2026-06-02"}]
    await Service.update({Service.cqc_location_id: record["locationId"]}).where(
        Service.id == home["id"]
    )
    upload = tmp_path / "location.json"
    upload.write_text(json.dumps(record))

    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/services/{home['id']}")
    await page.get_by_label("Import the CQC record").set_input_files(str(upload))
    await page.get_by_role("button", name="Import", exact=True).click()
    await page.wait_for_load_state("networkidle")
    text = " ".join((await page.locator("main").inner_text()).split())
    assert "3 ratings added" in text and "Residential homes" in text
    assert "CQC lists no registered manager since 20 Jan 2026" in text
    assert "CQC inspected 2 Jun 2026, report not yet published" in text
    await visit(page, "service-rated-per-service-type")

    await page.get_by_role("button", name="Open an improvement case").click()
    await page.wait_for_load_state("networkidle")
    text = " ".join((await page.locator("main").inner_text()).split())
    assert "the rating of Residential homes" in text and "Special measures" in text
    assert "CQC lists no registered manager since 20 Jan 2026" in text
    await visit(page, "case-of-a-service-type")


async def test_home_page_filters(page, manager_and_home):
    manager, _ = manager_and_home
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.get_by_label("Latest rating").select_option("good")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_load_state("networkidle")
    assert "No service matches these filters" in await page.locator("main").inner_text()
    await visit(page, "home-filtered")


async def test_manager_types_in_a_rating_with_a_warning_notice(page, manager_and_home):
    manager, home = manager_and_home
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/services/{home['id']}/ratings/new")
    await page.get_by_label("Date the report was published").fill("2026-10-01")
    await page.get_by_label("Overall").select_option("requires_improvement")
    await page.get_by_label("Safe", exact=True).select_option("inadequate")
    await page.get_by_label("Kind 1").select_option("warning_notice")
    await page.locator("#f-enforcement_1_regulation").select_option("12")
    await visit(page, "rating-form")
    await page.get_by_role("button", name="Record rating").click()
    await page.wait_for_load_state("networkidle")
    assert (
        "Comply by a warning notice needs its compliance date"
        in await page.locator("main").inner_text()
    )
    await page.locator("#f-enforcement_1_due").fill("2026-12-20")
    await page.get_by_role("button", name="Record rating").click()
    await page.wait_for_load_state("networkidle")
    text = await page.locator("main").inner_text()
    assert "Rating recorded." in text and "comply by 20 Dec 2026" in text
    assert "Inadequate in at least one key question" in text
    await page.get_by_role("button", name="Open an improvement case").click()
    await page.wait_for_load_state("networkidle")
    text = await page.locator("main").inner_text()
    assert "Warning notice compliance date (regulation 12)" in text
    assert "Special measures entered" not in text  # only one key question is Inadequate


async def test_a_plan_that_changed_and_a_manager_who_left_read_clearly(page, world):
    """The states this product adds as plans change and people leave: a withdrawn finding,
    a dropped action, open actions owned by someone who has left, and the registered
    manager gone. Each page passes axe and reflows at 320 px (visit())."""
    from conftest import viewer_of

    from improve import clock
    from improve.accounts import people
    from improve.cases import domain as cases
    from improve.plans import actions
    from improve.plans import domain as plans

    provider = await world.org(OrgKind.PROVIDER, "Changing Care")
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Lee Leaving")
    lead = await world.user(provider, Role.QUALITY_LEAD, name="Quinn Staying")
    home = await world.service(provider, manager, name="Willow Court")
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": clock.today().isoformat(), "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me, case["id"], {"regulation": "12", "key_question": "safe", "description": "MAR gaps"}
    )
    twin = await cases.add_finding(
        me, case["id"], {"regulation": "12", "key_question": "safe", "description": "MAR gaps"}
    )
    await cases.update_finding(
        me, twin["id"], {"status": "withdrawn", "withdrawn_reason": "Entered twice"}, version=1
    )
    due = (clock.today().replace(day=1)).isoformat()
    rows = await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": "Audit MAR charts weekly",
                "theme": "person_centred_care",
                "due_on": due,
                "owner": manager["id"],
                "finding_ids": [finding["id"]],
            },
            {"title": "Monthly MAR audit", "theme": "person_centred_care", "due_on": due},
        ],
    )
    await actions.update(
        me, rows[1]["id"], {"status": "dropped", "reason": "Merged into the weekly audit"},
        version=1,
    )  # fmt: skip
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )

    await log_in_with_form(page, lead["email"], PASSWORD)
    await page.goto(f"/cases/{case['id']}")
    text = await page.locator("main").inner_text()
    assert "Lee Leaving, the registered manager, has left." in text
    assert "1 open action owned by someone who has left" in text
    await page.get_by_text("Withdrawn as recorded in error (1)").click()
    assert await page.get_by_text("Why: Entered twice").is_visible()
    await visit(page, "case-manager-left")
    await page.goto(f"/cases/{case['id']}/plan")
    assert (
        "1 open action is owned by someone who has left" in await page.locator("main").inner_text()
    )
    await visit(page, "plan-owner-left")
    await page.goto(f"/actions/{rows[1]['id']}")
    assert (
        "Dropped from the plan: Merged into the weekly audit"
        in await page.locator("main").inner_text()
    )
    await visit(page, "action-dropped")
