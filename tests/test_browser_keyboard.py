"""The main flows with the keyboard alone, in Chromium: logging in (with the skip link),
updating an action's status, recording a progress review. Nothing is clicked or filled:
focus moves with Tab, text is typed, choices are made with the arrow keys or by typing, and
forms are sent with Enter. Every element tabbed through must show where the focus is."""

from __future__ import annotations

import pytest
from browser_support import visit
from conftest import PASSWORD, viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.plans import actions
from improve.plans import domain as plans
from improve.reviews import domain as reviews

pytestmark = pytest.mark.browser

# what Tab landed on, and whether the focus is visible (outline or box shadow)
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    name: el.getAttribute('name') || '',
    type: el.getAttribute('type') || '',
    matchesFocus: el.matches(':focus'),
    text: (el.innerText || '').trim(),
    value: el.value === undefined ? '' : String(el.value),
    label: el.labels && el.labels.length ? el.labels[0].innerText.trim() : '',
    inMain: !!el.closest('main'),
    visible: outline || !!shadow,
  };
}"""


async def focused(page) -> dict:
    return await page.evaluate(FOCUSED)


async def tab_to(page, wanted, max_tabs: int = 80) -> dict:
    """Press Tab until the focused element matches `wanted` (a function of what FOCUSED
    reports); every link, button and field passed on the way must show its focus."""
    seen = []
    for _ in range(max_tabs):
        await page.keyboard.press("Tab")
        element = await focused(page)
        seen.append(element["id"] or element["text"][:30] or element["tag"])
        # Tab also stops on a date field's calendar button, inside the browser's own shadow
        # DOM: the field is then not :focus and Chromium draws its own ring on the button
        in_date_picker = element["type"] == "date" and not element["matchesFocus"]
        if element["tag"] in ("a", "button", "input", "select", "textarea"):
            assert element["visible"] or in_date_picker, f"no visible focus on {element}"
        if wanted(element):
            return element
    raise AssertionError(f"never reached the element after {max_tabs} tabs: {seen}")


def by_id(element_id: str):
    return lambda e: e["id"] == element_id


def button(text: str):
    return lambda e: e["tag"] == "button" and e["text"] == text


async def press_and_wait(page, key: str) -> None:
    async with page.expect_navigation():
        await page.keyboard.press(key)
    await page.wait_for_load_state("networkidle")


async def log_in_by_keyboard(page, email: str) -> None:
    await page.goto("/login")
    start = await focused(page)
    assert start["id"] == "f-email", "the login form puts the focus in its first field"
    await page.keyboard.type(email)
    await tab_to(page, by_id("f-password"), max_tabs=1)
    await page.keyboard.type(PASSWORD)
    await tab_to(page, button("Log in"), max_tabs=1)
    await press_and_wait(page, "Enter")
    assert "/login" not in page.url


@pytest.fixture
async def plan(world):
    provider = await world.org(OrgKind.PROVIDER, "Keys Care")
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="Kim Keys")
    home = await world.service(provider, manager, name="Keyboard House")
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-09-01", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    finding = await cases.add_finding(
        me,
        case["id"],
        {"regulation": "18", "key_question": "safe", "description": "Too few staff at night."},
    )
    added = await plans.commit(
        me,
        case["id"],
        [],
        [
            {
                "title": "Recruit two night seniors",
                "theme": "staffing",
                "due_on": "2026-12-20",
                "owner": manager["id"],
                "finding_ids": [finding["id"]],
            }
        ],
    )
    return {"manager": manager, "me": me, "case": case, "action": added[0]}


async def test_log_in_and_skip_to_the_content_by_keyboard(page, plan):
    await page.goto("/login")
    await visit(page, "keyboard-login")
    await log_in_by_keyboard(page, plan["manager"]["email"])
    skip = await tab_to(page, lambda e: True, max_tabs=1)  # the very first Tab
    assert skip["tag"] == "a" and skip["text"] == "Skip to content"
    await page.keyboard.press("Enter")
    landed = await focused(page)
    assert landed["id"] == "main" and page.url.endswith("#main")
    inside = await tab_to(page, lambda e: True, max_tabs=1)
    assert inside["inMain"], "after skipping, Tab goes on inside the content, not the menu"
    await visit(page, "keyboard-home")


async def test_update_an_action_status_by_keyboard(page, plan):
    action_id = plan["action"]["id"]
    await log_in_by_keyboard(page, plan["manager"]["email"])
    await page.goto(f"/actions/{action_id}")
    await visit(page, "keyboard-action")
    status = await tab_to(page, by_id("f-status"))
    assert status["label"] == "Status" and status["value"] == "not_started"
    await page.keyboard.press("ArrowDown")
    assert (await focused(page))["value"] == "in_progress"
    await tab_to(page, by_id("f-note"))
    await page.keyboard.type("Adverts are out; interviews next week.")
    await tab_to(page, button("Save"))
    await press_and_wait(page, "Enter")
    text = await page.locator("main").inner_text()
    assert "In progress" in text and "Adverts are out" in text
    saved = await actions.get_action(plan["me"], action_id)
    assert saved["status"] == "in_progress"
    assert [n["text"] for n in saved["notes"]] == ["Adverts are out; interviews next week."]
    await visit(page, "keyboard-action-saved")


async def test_record_a_progress_review_by_keyboard(page, plan):
    case_id = plan["case"]["id"]
    await log_in_by_keyboard(page, plan["manager"]["email"])
    await page.goto(f"/cases/{case_id}/reviews/new")
    await visit(page, "keyboard-review-form")
    await tab_to(page, by_id("f-attendees"))
    await page.keyboard.type("Kim Keys, Quinn Lead")
    await tab_to(page, by_id("f-rag_staffing"))
    await page.keyboard.type("Red")  # a closed select picks the option typed
    await tab_to(page, by_id("f-overall_rag"))
    await page.keyboard.type("Amber")
    await tab_to(page, by_id("f-confidence"))
    await page.keyboard.type("Medium")
    await tab_to(page, by_id("f-decisions"))
    await page.keyboard.type("Advertise night senior posts this week.")
    await tab_to(page, button("Record review"))
    await press_and_wait(page, "Space")  # Space presses a button as Enter does
    assert "/reviews/" in page.url
    text = await page.locator("main").inner_text()
    assert "Advertise night senior posts" in text and "Kim Keys, Quinn Lead" in text
    recorded = (await reviews.of_case(plan["me"], case_id))[0]
    assert recorded["rag"] == {"staffing": "red"}
    assert (recorded["overall_rag"], recorded["confidence"]) == ("amber", "medium")
    assert recorded["audience"] == "internal"
    await visit(page, "keyboard-review")
