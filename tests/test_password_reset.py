"""A forgotten password, reset by email: signed single-use links that expire, the same
answer for every address, one email per few minutes, a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import csrf_token

from improve import clock
from improve.accounts import login, people, resets, sessions
from improve.accounts.tables import LoginThrottle, OrgKind, Role, User
from improve.errors import Invalid

NOW = dt.datetime(2026, 12, 2, 21, 0, tzinfo=dt.UTC)  # 9 pm, and the manager is locked out
NEW = "a new long password 2026"


@pytest.fixture
async def manager(world):
    provider = await world.org(OrgKind.PROVIDER)
    return await world.user(provider, Role.REGISTERED_MANAGER, name="Mo Manager")


async def _holder_row(user_id: int) -> dict:
    return await User.select(User.id, User.password_hash).where(User.id == user_id).first()


async def test_a_link_works_once_for_its_holder_until_it_expires(manager):
    row = await _holder_row(manager["id"])
    token = resets.make_token(row, NOW)
    with clock.frozen(NOW + dt.timedelta(minutes=59)):
        assert (await resets.holder_of(token))["id"] == manager["id"]
    with clock.frozen(NOW + dt.timedelta(minutes=61)):
        assert await resets.holder_of(token) is None  # expired
    user_part, expires, signature = token.split("-", 2)
    for forged in (
        f"{user_part}-{int(expires) + 3600}-{signature}",  # a later expiry
        f"{int(user_part) + 1}-{expires}-{signature}",  # someone else
        f"{user_part}-{expires}-{signature[:-2]}xx",
        "",
        "1-2",
        "x-y-z",
        f"99999999999-{expires}-{signature}",
    ):
        with clock.frozen(NOW):
            assert await resets.holder_of(forged) is None, forged
    with clock.frozen(NOW):
        await resets.complete(token, NEW, NEW)
        assert await resets.holder_of(token) is None  # used: the password hash changed
        with pytest.raises(Invalid) as again:
            await resets.complete(token, "another long password", "another long password")
    assert "expired or has been used" in again.value.errors["token"]


async def test_a_deactivated_person_has_no_working_link(manager):
    token = resets.make_token(await _holder_row(manager["id"]), NOW)
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    with clock.frozen(NOW):
        assert await resets.holder_of(token) is None
        assert await resets.request_link(manager["email"]) is None


async def test_the_new_password_is_checked_ends_every_login_and_lifts_a_lock_out(manager):
    email = manager["email"]
    old_session = await sessions.start(manager["id"])
    with clock.frozen(NOW):
        for _ in range(8):  # forgot it, and kept trying
            with pytest.raises(login.LoginRefused):
                await login.authenticate(email, "wrong guess")
        token = resets.make_token(await _holder_row(manager["id"]), NOW)
        with pytest.raises(Invalid) as short:
            await resets.complete(token, "short", "short")
        assert "new_password" in short.value.errors
        with pytest.raises(Invalid) as mismatch:
            await resets.complete(token, NEW, NEW + "!")
        assert "confirm_password" in mismatch.value.errors
        await resets.complete(token, NEW, NEW)
        viewer = await login.authenticate(email, NEW)  # no lock-out left to wait for
    assert viewer.user_id == manager["id"]
    assert await sessions.viewer_for(old_session) is None


async def test_one_email_per_address_every_few_minutes_and_none_for_strangers(manager):
    with clock.frozen(NOW):
        assert await resets.request_link("nobody@example.org") is None
        first = await resets.request_link(f"  {manager['email'].upper()} ")
        assert await resets.request_link(manager["email"]) is None  # asked again at once
    assert first["email"] == manager["email"] and first["name"] == "Mo Manager"
    token = re.search(r"/password/reset/(\S+)", first["link"]).group(1)
    with clock.frozen(NOW):
        assert (await resets.holder_of(token))["id"] == manager["id"]
    with clock.frozen(NOW + resets.RESEND_AFTER + dt.timedelta(seconds=1)):
        assert await resets.request_link(manager["email"]) is not None
    throttle = await LoginThrottle.select().where(LoginThrottle.email == manager["email"]).first()
    assert throttle["failures"] == 0  # asking for a link is not a failed login
    # a stranger's address takes its turn too: the same work for every address
    assert await LoginThrottle.exists().where(LoginThrottle.email == "nobody@example.org")


async def test_the_whole_journey_through_the_pages_with_a_real_mail_server(manager, client, smtp):
    login_page = await client.get("/login")
    assert 'href="/password/forgot"' in login_page.text
    token = await csrf_token(client)
    answers = []
    for address in (manager["email"], "nobody@example.org"):
        page = await client.post("/password/forgot", data={"_csrf_token": token, "email": address})
        answers.append(page.text.split("<main")[1].replace(address, "ADDRESS"))
    assert answers[0] == answers[1]  # nothing says which address has an account
    assert "If an account uses that address" in answers[0]
    [mail] = smtp.messages
    assert mail["To"] == manager["email"] and mail["Subject"] == "Reset your improve password"
    text = mail.get_body(("plain",)).get_content()
    link = re.search(r"http://testserver.local(/password/reset/\S+)", text).group(1)
    assert link in mail.get_body(("html",)).get_content()

    form = await client.get(link)
    assert form.status_code == 200 and 'name="new_password"' in form.text
    refused = await client.post(
        link, data={"_csrf_token": token, "new_password": NEW, "confirm_password": "other"}
    )
    assert refused.status_code == 400 and "does not match" in refused.text
    done = await client.post(
        link,
        data={"_csrf_token": token, "new_password": NEW, "confirm_password": NEW},
        follow_redirects=False,
    )
    # logged in at once (a stranger who locks the address cannot keep its owner out)
    assert done.status_code == 303 and done.headers["location"].startswith("/profile?")
    profile = await client.get(done.headers["location"])
    assert profile.status_code == 200
    assert "Your password is changed and you are logged in" in profile.text
    client.cookies.clear()
    used = await client.get(link)
    assert used.status_code == 400 and "expired or has been used" in used.text
    assert 'name="new_password"' not in used.text
    token = await csrf_token(client)
    logged_in = await client.post(
        "/login",
        data={"_csrf_token": token, "email": manager["email"], "password": NEW},
        follow_redirects=False,
    )
    assert logged_in.status_code == 303


async def test_without_email_the_login_page_says_whom_to_ask(manager, client):
    assert "/password/forgot" not in (await client.get("/login")).text
    page = await client.get("/password/forgot")
    assert "cannot send email" in page.text and 'name="email"' not in page.text
    token = await csrf_token(client)
    await client.post("/password/forgot", data={"_csrf_token": token, "email": manager["email"]})
    assert not await LoginThrottle.exists().where(LoginThrottle.email == manager["email"])
