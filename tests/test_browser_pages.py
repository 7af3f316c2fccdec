"""The HTML pages no journey test opens, checked in Chromium with real data (screenshot and
accessibility check through visit()). tests/test_browser_zz_coverage.py fails when a page
of the app is checked nowhere: add it here when no journey test reaches it."""

from __future__ import annotations

import datetime as dt

import pytest
from browser_support import log_in_with_form, visit
from conftest import PASSWORD, viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.evidence import domain as evidence
from improve.measures import domain as measures
from improve.monitoring import domain as monitoring
from improve.plans import actions
from improve.plans import domain as plans
from improve.reviews import domain as reviews

pytestmark = pytest.mark.browser

FALLS = [9, 8, 10, 9, 11, 9, 10, 8, 9, 10, 9, 10, 6, 5, 6, 5, 4, 5]


@pytest.fixture
async def service(world):
    """A service well into its improvement: findings, a plan under way with evidence, a
    review, a self-assessment, a year and a half of figures and a commissioner's level."""
    provider = await world.org(OrgKind.PROVIDER, "Rowan Care")
    council = await world.org(OrgKind.COMMISSIONER, "Fen Council")
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Robin Rowan")
    lead = await world.user(provider, Role.QUALITY_LEAD, name="Lee Rowan")
    commissioner = await world.user(council, Role.COMMISSIONER, name="Fran Fen")
    home = await world.service(provider, manager, (council,), "Rowan House")
    me, them = viewer_of(manager), viewer_of(commissioner)
    await cases.record_rating(
        me,
        home["id"],
        {"published_on": "2026-03-02", "overall": "Inadequate", "safe": "inadequate"},
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me,
        case["id"],
        {
            "regulation": "12",
            "key_question": "safe",
            "items": ["safe.medicines"],
            "description": "Medicines were not given as prescribed to three people.",
        },
    )
    added = await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": "Weekly medicines audit",
                "theme": "person_centred_care",
                "due_on": "2026-12-11",
                "owner": manager["id"],
                "finding_ids": [finding["id"]],
            }
        ],
    )
    action = added[0]
    await actions.update(
        me, action["id"], {"status": "in_progress", "note": "First audit done."}, version=1
    )
    await evidence.add(me, finding_id=finding["id"], text="MAR chart audit, 3 November: no gaps.")
    await reviews.record(
        me,
        case["id"],
        {
            "audience": "internal",
            "held_on": "2026-11-10",
            "attendees": "Robin Rowan, Lee Rowan",
            "rag_person_centred_care": "amber",
            "overall_rag": "amber",
            "confidence": "medium",
            "decisions": "Keep the weekly audit until three clean weeks.",
        },
    )
    assessment = await assessments.record(
        viewer_of(lead),
        home["id"],
        {
            "assessed_on": "2026-11-12",
            "score.safe.medicines": "2",
            "evidence.safe.medicines": "Two gaps in the last fortnight's MAR charts.",
            "score.safe.safe_staffing": "3",
            "score.well_led.governance": "2",
        },
    )
    start = dt.date(2025, 5, 1)
    await measures._upsert(
        [
            (home["id"], "falls", dt.date(start.year + (4 + i) // 12, (4 + i) % 12 + 1, 1), v)
            for i, v in enumerate(FALLS)
        ],
        me,
        "csv",
    )
    await monitoring.add_default_levels(them)
    levels = {lv["name"]: lv["id"] for lv in await monitoring.levels_of(them.organisation_id)}
    await monitoring.set_level(
        them, home["id"], {"level": levels["Enhanced monitoring"], "note": "Medicines follow-up"}
    )
    await monitoring.record_visit(
        them,
        home["id"],
        {
            "visited_on": "2026-11-05",
            "kind": "monitoring_visit",
            "outcome": "good",
            "summary": "Medicines round observed: safe and unhurried.",
        },
    )
    return {
        "manager": manager,
        "commissioner": commissioner,
        "provider": provider,
        "home": home,
        "finding": finding,
        "assessment": assessment,
    }


async def test_provider_pages(page, service):
    await log_in_with_form(page, service["manager"]["email"], PASSWORD)
    main = page.locator("main")
    await page.goto(f"/findings/{service['finding']['id']}/edit")
    assert "MAR chart audit" in await main.inner_text()  # the finding's evidence
    await visit(page, "finding-edit")
    await page.goto(f"/assessments/{service['assessment']['id']}")
    assert "Two gaps in the last fortnight" in await main.inner_text()
    await visit(page, "assessment")
    await page.goto(f"/services/{service['home']['id']}/briefing")
    text = await main.inner_text()
    assert "Briefing: Rowan House" in text and "Medicines were not given" in text
    await visit(page, "briefing-provider")


async def test_commissioner_briefing(page, service):
    await log_in_with_form(page, service["commissioner"]["email"], PASSWORD)
    await page.goto(f"/services/{service['home']['id']}/briefing")
    text = await page.locator("main").inner_text()
    assert "Enhanced monitoring" in text and "Monitoring visit" in text
    await visit(page, "briefing-commissioner")


async def test_admin_organisation_page(page, service, world):
    admin = await world.admin()
    await log_in_with_form(page, admin["email"], PASSWORD)
    response = await page.goto(f"/admin/organisations/{service['provider']['id']}")
    assert response.status == 200
    assert "Robin Rowan" in await page.locator("main").inner_text()
    await visit(page, "admin-organisation")
