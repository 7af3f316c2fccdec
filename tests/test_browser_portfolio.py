"""A commissioner and a quality lead see their portfolio in a real browser, open a case,
and read run charts and the projected rating; the commissioner cannot edit the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from browser_support import log_in_with_form, visit
from conftest import PASSWORD, viewer_of

from improve import framework
from improve.accounts.tables import OrgKind, Role
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.measures import domain as measures
from improve.monitoring import domain as monitoring
from improve.plans import domain as plans

pytestmark = pytest.mark.browser

TURNOVER = [31, 30, 32, 29, 31, 30, 33, 30, 31, 29, 32, 30, 26, 25, 24, 24, 23, 22]


@pytest.fixture
async def estate(world):
    provider = await world.org(OrgKind.PROVIDER, "Beech Care")
    council = await world.org(OrgKind.COMMISSIONER, "Wold Council")
    admin = viewer_of(await world.admin())
    lead = await world.user(provider, Role.QUALITY_LEAD)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    home = await world.service(provider, manager, (council,), "Beech House")
    await world.service(provider, None, (council,), "Beech Lodge")
    await cases.record_rating(
        admin, home["id"], {"published_on": "2026-03-02", "overall": "Inadequate"}
    )
    case = await cases.open_case(admin, home["id"])
    await cases.add_finding(
        admin,
        case["id"],
        {"regulation": "18", "key_question": "safe", "description": "Too few staff at night"},
    )
    await plans.commit(
        admin,
        case["id"],
        [],
        [{"title": "Recruit night staff", "theme": "staffing", "due_on": "2026-12-01"}],
    )
    start = dt.date(2025, 5, 1)
    rows = []
    for i, value in enumerate(TURNOVER):
        month = dt.date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
        rows.append((home["id"], "staff_turnover", month, value))
    await measures._upsert(rows, viewer_of(lead), "csv")
    scores = {f"score.{i}": "3" for i in framework.get("saf").items} | {"score.safe.medicines": "1"}
    await assessments.record(viewer_of(lead), home["id"], {"assessed_on": "2026-10-01", **scores})
    them = viewer_of(commissioner)
    await monitoring.add_default_levels(them)
    levels = {lv["name"]: lv["id"] for lv in await monitoring.levels_of(them.organisation_id)}
    await monitoring.set_level(them, home["id"], {"level": levels["Provider concerns"]})
    return {"lead": lead, "commissioner": commissioner, "home": home, "case": case}


async def test_a_commissioner_follows_a_service_from_the_portfolio(page, estate):
    await log_in_with_form(page, estate["commissioner"]["email"], PASSWORD)
    await page.get_by_role("link", name="Portfolio").click()
    await page.wait_for_load_state("networkidle")
    table = page.locator("table.portfolio")
    assert await table.locator("tbody tr").count() == 2
    first = table.locator("tbody tr").first
    assert "Beech House" in await first.inner_text()  # most concern first
    assert "Provider concerns" in await first.inner_text()
    await visit(page, "portfolio-commissioner")

    await page.get_by_label("Special measures").check()
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_load_state("networkidle")
    assert await table.locator("tbody tr").count() == 1

    await first.get_by_role("link", name="Beech House").click()
    await page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/cases/{estate['case']['id']}")
    await page.goto(f"/cases/{estate['case']['id']}/plan")
    assert await page.get_by_role("link", name="Add actions from the playbooks").count() == 0
    assert await page.locator("form#bulk").count() == 0
    response = await page.goto(f"/cases/{estate['case']['id']}/plan/build")
    assert response.status == 403

    await page.goto(f"/services/{estate['home']['id']}/monitoring")
    await visit(page, "monitoring-commissioner")
    await page.goto("/monitoring/levels")
    await visit(page, "monitoring-levels")


async def test_a_quality_lead_compares_homes_and_reads_the_evidence(page, estate):
    await log_in_with_form(page, estate["lead"]["email"], PASSWORD)
    await page.get_by_role("link", name="Portfolio").click()
    await page.wait_for_load_state("networkidle")
    body = await page.locator("main").inner_text()
    assert "Beech House" in body and "Beech Lodge" in body
    assert "shift (improving)" in body
    await visit(page, "portfolio-quality")

    await page.get_by_role("link", name="Beech House").first.click()
    await page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/cases/{estate['case']['id']}")

    await page.goto(f"/services/{estate['home']['id']}/measures")
    chart = page.get_by_role("img", name="Staff turnover")
    assert await chart.count() == 1
    assert "shift" in await page.locator("main").inner_text()
    await visit(page, "measures-service")

    await page.goto(f"/services/{estate['home']['id']}/assessments")
    assert "Limited to Requires improvement" in await page.locator("main").inner_text()
    await visit(page, "assessments-service")
    await page.get_by_role("link", name="Start a new assessment").click()
    await page.wait_for_load_state("networkidle")
    await visit(page, "assessment-form")
    await page.goto("/measures")
    await visit(page, "measures-organisation")
