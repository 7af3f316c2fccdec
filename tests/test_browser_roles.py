"""Each role logs in through the real form on a real server and sees its own world."""

from __future__ import annotations

import pytest
from browser_support import log_in_with_form, visit
from conftest import PASSWORD

from improve.accounts.tables import OrgKind, Role

pytestmark = pytest.mark.browser


@pytest.fixture
async def two_providers(world):
    oak = await world.org(OrgKind.PROVIDER, "Oak Care")
    elm = await world.org(OrgKind.PROVIDER, "Elm Care")
    council = await world.org(OrgKind.COMMISSIONER, "Shire Council")
    people = {
        "admin": await world.admin(),
        "quality_lead": await world.user(oak, Role.QUALITY_LEAD),
        "registered_manager": await world.user(oak, Role.REGISTERED_MANAGER),
        "commissioner": await world.user(council, Role.COMMISSIONER),
    }
    oak_home = await world.service(oak, people["registered_manager"], (council,), "Oak House")
    oak_other = await world.service(oak, None, (), "Oak Lodge")
    elm_home = await world.service(
        elm, await world.user(elm, Role.REGISTERED_MANAGER), (), "Elm House"
    )
    return {"people": people, "oak_home": oak_home, "oak_other": oak_other, "elm_home": elm_home}


# which of the three services each role must see on its home page
SEES = {
    "admin": {"oak_home", "oak_other", "elm_home"},
    "quality_lead": {"oak_home", "oak_other"},
    "registered_manager": {"oak_home"},
    "commissioner": {"oak_home"},
}


@pytest.mark.parametrize("role", list(SEES))
async def test_role_logs_in_and_sees_only_its_own_services(page, two_providers, role):
    scene = two_providers
    user = scene["people"][role]
    await page.goto("/")
    assert page.url.endswith("/login?next=/")
    await visit(page, "login")
    await log_in_with_form(page, user["email"], PASSWORD)
    assert await page.get_by_role("heading", level=1).inner_text() == user["organisation_name"]
    body = await page.locator("main").inner_text()
    for key in ("oak_home", "oak_other", "elm_home"):
        name = scene[key]["name"]
        assert (name in body) == (key in SEES[role]), f"{role} and {name}"
    if role != "admin":
        assert "Elm Care" not in await page.content()
    await visit(page, f"home-{role}")

    await page.get_by_role("link", name=scene["oak_home"]["name"]).click()
    await page.wait_for_load_state("networkidle")
    assert await page.get_by_role("heading", level=1).inner_text() == scene["oak_home"]["name"]
    can_edit = await page.get_by_role("link", name="Edit details").count()
    assert can_edit == (0 if role == "commissioner" else 1)
    await visit(page, f"service-{role}")

    # another provider's service is simply not there
    response = await page.goto(f"/services/{scene['elm_home']['id']}")
    assert response.status == (200 if role == "admin" else 404)
    await visit(page, f"other-service-{role}")

    await page.goto("/profile")
    await visit(page, f"profile-{role}")
    if role == "registered_manager":
        # the API reference is our own page: readable under the site's CSP, no CDN script
        await page.get_by_role("link", name="JSON API").click()
        await page.wait_for_load_state("networkidle")
        assert await page.get_by_role("heading", level=1).inner_text() == "improve API"
        await page.get_by_role("link", name="ActionPatch").first.click()
        assert page.url.endswith("#shape-ActionPatch")
        await visit(page, "api-reference")
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_load_state("networkidle")
    assert "/login" in page.url


async def test_wrong_password_shows_a_clear_message(page, two_providers):
    await log_in_with_form(page, two_providers["people"]["quality_lead"]["email"], "nope nope")
    assert "do not match an active account" in await page.locator("main").inner_text()
    await visit(page, "login-refused")


async def test_a_forgotten_password_is_reset_through_the_link(page, world):
    """The server under test sends no email: the forgot page says whom to ask, and the
    link such an email would carry is made here with the same secret."""
    import datetime as dt

    from improve.accounts import resets
    from improve.accounts.tables import User

    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await page.goto("/password/forgot")
    assert "cannot send email" in await page.locator("main").inner_text()
    await visit(page, "password-forgot-no-email")
    row = await User.select(User.id, User.password_hash).where(User.id == manager["id"]).first()
    link = f"/password/reset/{resets.make_token(row, dt.datetime.now(dt.UTC))}"
    await page.goto(link)
    await visit(page, "password-reset")
    await page.get_by_label("New password", exact=True).fill("a brand new password 9pm")
    await page.get_by_label("New password again").fill("a brand new password 9pm")
    await page.get_by_role("button", name="Change password").click()
    await page.wait_for_load_state("networkidle")
    # logged in at once: a stranger who locks the address cannot keep its owner out
    changed = await page.locator("main").inner_text()
    assert "Your password is changed and you are logged in" in changed
    await visit(page, "profile-after-reset")
    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_load_state("networkidle")
    await page.get_by_label("Email address").fill(manager["email"])
    await page.get_by_label("Password").fill("a brand new password 9pm")
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state("networkidle")
    assert await page.get_by_role("button", name="Log out").count() == 1
    await page.goto(link)  # the link died with the old password
    assert "expired or has been used" in await page.locator("main").inner_text()
    await visit(page, "password-reset-used")


async def test_admin_pages(page, two_providers):
    admin = two_providers["people"]["admin"]
    await log_in_with_form(page, admin["email"], PASSWORD)
    for path, name in [
        ("/admin", "admin-overview"),
        ("/admin/organisations", "admin-organisations"),
        ("/admin/users", "admin-users"),
        ("/admin/services", "admin-services"),
        (f"/admin/services/{two_providers['oak_home']['id']}", "admin-service"),
        (f"/admin/users/{two_providers['people']['quality_lead']['id']}", "admin-user"),
        ("/admin/imports", "admin-imports"),
        ("/admin/outbox", "admin-outbox"),
    ]:
        response = await page.goto(path)
        assert response.status == 200, path
        await visit(page, name)


async def test_manager_edits_service_details_with_a_clear_error(page, two_providers):
    manager = two_providers["people"]["registered_manager"]
    service = two_providers["oak_home"]
    await log_in_with_form(page, manager["email"], PASSWORD)
    await page.goto(f"/services/{service['id']}/edit")
    await page.get_by_label("Beds").fill("-3")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    assert "Beds must be between 0 and 2000" in await page.locator("main").inner_text()
    await visit(page, "service-edit-error")
    await page.get_by_label("Beds").fill("38")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_load_state("networkidle")
    assert "38" in await page.locator("dl").inner_text()


async def test_admin_imports_the_care_directory(page, two_providers, tmp_path):
    from pathlib import Path

    source = Path(__file__).parent / "data" / "care_directory.csv"
    csv_file = tmp_path / "directory.csv"
    csv_file.write_text(
        source.read_text()
        .replace("1-000000", "1-999000")
        .replace("Moorland Care", "Moorland Care Three")
    )
    await log_in_with_form(page, two_providers["people"]["admin"]["email"], PASSWORD)
    await page.goto("/admin/imports")
    await page.get_by_label("The CQC care directory (CSV)").check()
    await page.get_by_label("File", exact=True).set_input_files(str(csv_file))
    await page.get_by_role("button", name="Import", exact=True).click()
    await page.wait_for_load_state("networkidle")
    assert "3 created, 0 updated" in await page.locator("main").inner_text()
    await visit(page, "admin-imported")
