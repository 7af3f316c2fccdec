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


async def test_an_action_is_done_then_verified_by_the_quality_lead(
    page, case_with_findings, world, tmp_path
):
    from improve.accounts import people
    from improve.plans import domain as plans

    manager, case = case_with_findings
    me = viewer_of(manager)
    lead = await world.user(
        await people.organisation(manager["organisation"]), Role.QUALITY_LEAD, name="Quinn Lead"
    )
    added = await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": "Rewrite the medicines policy",
                "theme": "person_centred_care",
                "due_on": "2026-12-15",
                "owner": manager["id"],
            }
        ],
    )
    action_id = added[0]["id"]

    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/actions/{action_id}")
    proof = tmp_path / "policy.pdf"
    proof.write_bytes(b"%PDF-1.4 the new medicines policy")
    await page.get_by_label("File").set_input_files(str(proof))
    await page.get_by_label("Note", exact=True).fill("Signed policy")
    await page.get_by_role("button", name="Add evidence").click()
    await page.wait_for_load_state("networkidle")
    assert "policy.pdf" in await page.locator("#evidence").inner_text()
    # a file uploaded to the wrong action is withdrawn: gone from the page, reason kept
    wrong = tmp_path / "wrong.pdf"
    wrong.write_bytes(b"%PDF-1.4 another home's MAR chart")
    await page.get_by_label("File").set_input_files(str(wrong))
    await page.get_by_role("button", name="Add evidence").click()
    await page.wait_for_load_state("networkidle")
    item = page.locator("#evidence li", has_text="wrong.pdf")
    await item.locator("summary").click()
    await item.get_by_label("Why withdraw it?").fill("Another home's chart")
    await visit(page, "evidence-withdraw")
    await item.get_by_role("button", name="Confirm withdrawal").click()
    await page.wait_for_load_state("networkidle")
    listed = await page.locator("#evidence").inner_text()
    assert "wrong.pdf" not in listed and "Another home's chart" in listed
    assert "policy.pdf" in listed
    await page.get_by_label("Status").select_option("done")
    await page.get_by_label("Progress note").fill("Policy rewritten and read by all seniors.")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    text = await page.locator("main").inner_text()
    assert "Done" in text and "Policy rewritten" in text
    await visit(page, "action-done")
    await page.get_by_label("Status").select_option("verified")
    await page.get_by_label("Evidence it worked").fill("I checked it myself")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    assert "Someone other than the owner" in await page.locator("main").inner_text()
    await visit(page, "action-verify-refused")
    await page.get_by_role("button", name="Log out").click()

    await log_in_with_form(page, lead["email"], PASSWORD)
    await page.goto(f"/actions/{action_id}")
    await page.get_by_label("Status").select_option("verified")
    await page.get_by_label("Evidence it worked").fill("Spot check of 10 MAR charts: no gaps.")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    text = await page.locator("main").inner_text()
    assert "Verified by Quinn Lead" in text and "no gaps" in text
    await visit(page, "action-verified")


async def test_quality_lead_reads_and_adds_playbooks(page, case_with_findings, world, tmp_path):
    from test_org_playbooks import OWN

    from improve.accounts import people

    manager, _ = case_with_findings
    lead = await world.user(await people.organisation(manager["organisation"]), Role.QUALITY_LEAD)
    await log_in_with_form(page, lead["email"], PASSWORD)
    await page.get_by_role("link", name="Playbooks").click()
    await page.wait_for_load_state("networkidle")
    await visit(page, "playbooks")
    await page.get_by_role("link", name="Staffing").click()
    await page.wait_for_load_state("networkidle")
    assert "Why:" in await page.locator("main").inner_text()
    await visit(page, "playbook-staffing")
    own = tmp_path / "falls.yaml"
    own.write_text(
        OWN.replace("oak-falls", "plan-falls").replace("oak-falls-huddle", "plan-falls-huddle")
    )
    await page.goto("/playbooks")
    await page.get_by_label("Add or update a playbook").set_input_files(str(own))
    await page.get_by_role("button", name="Upload playbook").click()
    await page.wait_for_load_state("networkidle")
    assert "Playbook plan-falls version 1 added" in await page.locator("main").inner_text()
    await visit(page, "playbooks-own")


async def test_the_whole_plan_journey_ends_in_a_printed_plan(
    page, case_with_findings, world, tmp_path
):
    """Build from proposals, edit an action, agree the plan, upload evidence, have the
    quality lead verify it, and print the plan."""
    from improve.accounts import people

    manager, case = case_with_findings
    lead = await world.user(
        await people.organisation(manager["organisation"]), Role.QUALITY_LEAD, name="Val Verifier"
    )
    main = page.locator("main")
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/cases/{case['id']}/plan/build")
    await page.get_by_role("button", name="Add to the plan").click()  # the ticked proposals
    await page.wait_for_load_state("networkidle")
    assert "No action yet" not in await main.inner_text()

    await page.locator("main table a[href^='/actions/']").first.click()
    await page.wait_for_load_state("networkidle")
    action_url = page.url
    await page.get_by_label("Due").fill("2026-12-18")
    await page.get_by_label("Owner").select_option(label=manager["name"])
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    assert "due 18 Dec 2026" in await main.inner_text()

    await page.goto(f"/cases/{case['id']}")
    await page.get_by_role("button", name="Move to Plan agreed").click()
    await page.wait_for_load_state("networkidle")
    assert "Stage: Plan agreed" in await main.inner_text()
    await visit(page, "case-plan-agreed")

    await page.goto(action_url)
    proof = tmp_path / "audit.pdf"
    proof.write_bytes(b"%PDF-1.4 audit results")
    await page.get_by_label("File").set_input_files(str(proof))
    await page.get_by_role("button", name="Add evidence").click()
    await page.wait_for_load_state("networkidle")
    await page.get_by_label("Status").select_option("done")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    await page.get_by_role("button", name="Log out").click()

    await log_in_with_form(page, lead["email"], PASSWORD)
    await page.get_by_role("link", name="My actions").click()
    await page.wait_for_load_state("networkidle")
    assert "waiting for you to verify" in (await main.inner_text()).lower()
    await visit(page, "my-actions-lead")
    await page.goto(action_url)
    await page.get_by_label("Status").select_option("verified")
    await page.get_by_label("Evidence it worked").fill("Read the audit: all charts complete.")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    assert "Verified by Val Verifier" in await main.inner_text()

    await page.goto(f"/cases/{case['id']}/plan/print")
    text = await main.inner_text()
    assert "What we will do" in text and "How we will know it worked" in text
    assert "Verified " in text  # the verified action, with its date
    await visit(page, "plan-printed")


async def test_manager_records_a_review(page, case_with_findings):
    manager, case = case_with_findings
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/cases/{case['id']}")
    await page.get_by_role("link", name="Record an internal review").click()
    await page.wait_for_load_state("networkidle")
    await page.get_by_role("button", name="Record review").click()
    await page.wait_for_load_state("networkidle")
    assert "There is a problem" in await page.locator("main").inner_text()
    await page.get_by_label("Who attended").fill("Pat Planner, Quinn Lead")
    await page.get_by_label("Staffing").select_option("red")
    await page.get_by_label("Overall").select_option("amber")
    await page.get_by_label("Confidence in being ready").select_option("medium")
    await page.get_by_label("Decisions").fill("Recruit two night seniors.")
    await page.locator("#a-1-title").fill("Advertise night senior posts")
    await page.locator("#a-1-theme").select_option("staffing")
    await page.locator("#a-1-due").fill("2026-12-20")
    await visit(page, "review-form")
    await page.get_by_role("button", name="Record review").click()
    await page.wait_for_load_state("networkidle")
    text = await page.locator("main").inner_text()
    assert "Internal review" in text and "Recruit two night seniors" in text
    await visit(page, "review")
    await page.goto(f"/cases/{case['id']}")
    text = await page.locator("main").inner_text()
    assert "Recent reviews" in text
    await page.goto(f"/cases/{case['id']}/plan")
    assert "Advertise night senior posts" in await page.locator("main").inner_text()


async def test_notifications_page(page, case_with_findings):
    from jobs import run_once

    manager, _ = case_with_findings
    await run_once("reminders")
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.get_by_role("link", name="Notifications").click()
    await page.wait_for_load_state("networkidle")
    await visit(page, "notifications")
    if await page.get_by_role("button", name="Mark all as read").count():
        await page.get_by_role("button", name="Mark all as read").click()
        await page.wait_for_load_state("networkidle")
    assert "0 unread" in await page.locator("main").inner_text()


async def test_unsubscribe_page_needs_no_login(page, case_with_findings):
    from improve.reminders import digests

    manager, _ = case_with_findings
    await page.goto(f"/unsubscribe/{digests.unsubscribe_token(manager['id'])}")
    await visit(page, "unsubscribe")
    await page.get_by_role("button", name="Stop weekly digests").click()
    await page.wait_for_load_state("networkidle")
    assert "will not receive the weekly digest" in await page.locator("main").inner_text()
