"""A manager builds the action plan from the playbooks in Chromium."""

from __future__ import annotations

import pytest
from browser_support import log_in_with_form, visit
from conftest import PASSWORD, viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases

pytestmark = pytest.mark.browser


@pytest.fixture
async def case_with_findings(world):
    provider = await world.org(OrgKind.PROVIDER, "Planning Care")
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Pat Planner")
    home = await world.service(provider, manager, name="Plan House")
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-09-01", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    for reg, kq, item, text in (
        ("12", "safe", "safe.medicines", "Medicines were not given as prescribed."),
        ("17", "well_led", "well_led.governance", "Audits missed the shortfalls."),
    ):
        await cases.add_finding(
            me,
            case["id"],
            {"regulation": reg, "key_question": kq, "items": [item], "description": text},
        )
    return manager, case


async def test_manager_builds_the_plan(page, case_with_findings):
    manager, case = case_with_findings
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_role("link", name="Build or extend it from the playbooks").click()
    await page.wait_for_load_state("networkidle")
    main = page.locator("main")
    assert "Proposed because it answers" in await main.inner_text()
    await visit(page, "plan-builder")

    boxes = page.locator("input[name=pick]")
    total = await boxes.count()
    ticked = await page.locator("input[name=pick]:checked").count()
    assert total > ticked >= 2  # strong matches start ticked, loose ones do not
    await boxes.nth(1).uncheck()  # one strong match does not fit this home
    first_title = page.locator("input[id^=title-]").first
    await first_title.fill("Weekly medicines audit, our way")
    await page.get_by_label("Title").nth(total).fill("Meet the GP practice about reviews")
    await page.get_by_role("button", name="Add to the plan").click()
    await page.wait_for_load_state("networkidle")
    assert "Your action 1 due on is required" in await main.inner_text()
    await visit(page, "plan-builder-error")
    await page.locator("#custom-1-due").fill("2026-12-31")
    await page.get_by_role("button", name="Add to the plan").click()
    await page.wait_for_load_state("networkidle")
    text = await main.inner_text()
    assert "Weekly medicines audit, our way" in text
    assert "Meet the GP practice about reviews" in text and "(your own)" in text
    assert f"Actions ({ticked})" in text  # the ticked ones less one, plus the custom action
    assert "No action yet" not in text  # every finding is answered
    await visit(page, "plan")

    await page.goto(f"/cases/{case['id']}")
    assert "Stage: Plan drafted" in await main.inner_text()
