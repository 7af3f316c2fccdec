"""Login, sessions, CSRF, back-off and API tokens."""

from __future__ import annotations

from datetime import timedelta

import httpx
from conftest import PASSWORD, api_token, csrf_token, http_client, log_in, viewer_of

from improve import clock
from improve.accounts import login, people, sessions, tokens
from improve.accounts.tables import ApiToken, OrgKind, Role, User, UserSession
from improve.app import create_app
from improve.settings import get_settings, override, use


async def _login(client: httpx.AsyncClient, email: str, password: str, next_: str = ""):
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, "next": next_},
        follow_redirects=False,
    )


async def test_login_form_starts_a_session_with_safe_cookie_flags(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    response = await _login(client, manager["email"].upper(), PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("improve_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    home = await client.get("/")
    assert home.status_code == 200 and manager["name"] in home.text


async def test_session_cookie_is_secure_behind_https(world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    saved = get_settings()
    try:
        app = create_app(override(base_url="https://improve.example"))
        async with http_client(app, "https://testserver.local") as client:
            response = await _login(client, manager["email"], PASSWORD)
        cookies = response.headers.get_list("set-cookie")
        assert any(c.startswith("improve_session=") and "Secure" in c for c in cookies)
    finally:
        use(saved)


async def test_session_is_stored_hashed_in_the_database(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await _login(client, manager["email"], PASSWORD)
    token = client.cookies.get("improve_session")
    rows = await UserSession.select(UserSession.token_hash).where(UserSession.user == manager["id"])
    assert [r["token_hash"] for r in rows] == [sessions.token_hash(token)]


async def test_next_is_followed_only_within_the_site(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    response = await _login(client, manager["email"], PASSWORD, next_="//evil.example/x")
    assert response.headers["location"] == "/"
    response = await _login(client, manager["email"], PASSWORD, next_="/profile")
    assert response.headers["location"] == "/profile"


async def test_wrong_password_says_so_without_revealing_which_part(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    wrong = await _login(client, manager["email"], "not the password")
    unknown = await _login(client, "unknown-person@example.org", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "do not match an active account" in wrong.text
    assert "do not match an active account" in unknown.text


async def test_form_post_without_csrf_token_is_refused(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    response = await client.post(
        "/login", data={"email": manager["email"], "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    await log_in(client, manager)
    refused = await client.post("/profile/tokens", data={"name": "x"})
    assert refused.status_code == 403
    assert await tokens.list_for(viewer_of(manager)) == []


async def test_repeated_failures_lock_the_address_then_release_it(world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    free = get_settings().login_free_attempts
    start = clock.now()
    with clock.frozen(start):
        for _ in range(free):
            try:
                await login.authenticate(manager["email"], "wrong password")
            except login.LoginRefused as refused:
                assert "do not match" in str(refused)
        # the lock applies even to the right password now
        try:
            await login.authenticate(manager["email"], PASSWORD)
        except login.LoginRefused as refused:
            assert "Too many failed attempts" in str(refused)
        else:
            raise AssertionError("a locked address logged in")
    with clock.frozen(start + timedelta(minutes=2)):
        viewer = await login.authenticate(manager["email"], PASSWORD)
        assert viewer.user_id == manager["id"]


def test_lock_grows_and_is_capped():
    assert login.lock_length(4, 5) == timedelta(0)
    assert login.lock_length(5, 5) == timedelta(minutes=1)
    assert login.lock_length(7, 5) == timedelta(minutes=4)
    assert login.lock_length(50, 5) == timedelta(minutes=30)


async def test_logout_ends_the_session(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await _login(client, manager["email"], PASSWORD)
    token = await csrf_token(client)
    await client.post("/logout", data={"_csrf_token": token}, follow_redirects=False)
    assert await sessions.count_for(manager["id"]) == 0
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_sessions_expire_after_inactivity(world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    start = clock.now()
    with clock.frozen(start):
        token = await sessions.start(manager["id"])
        assert (await sessions.viewer_for(token)).user_id == manager["id"]
    hours = get_settings().session_hours
    with clock.frozen(start + timedelta(hours=hours - 1)):
        assert await sessions.viewer_for(token) is not None  # use extends it
    with clock.frozen(start + timedelta(hours=2 * hours - 1.5)):
        assert await sessions.viewer_for(token) is not None
    with clock.frozen(start + timedelta(hours=4 * hours)):
        assert await sessions.viewer_for(token) is None


async def test_deactivated_people_are_logged_out_and_cannot_log_in(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await log_in(client, manager)
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    assert (await client.get("/", follow_redirects=False)).status_code == 303
    assert (await _login(client, manager["email"], PASSWORD)).status_code == 400


async def test_changing_password_ends_other_sessions(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    other_browser = await sessions.start(manager["id"])
    await log_in(client, manager)
    token = await csrf_token(client)
    response = await client.post(
        "/profile/password",
        data={
            "_csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert await sessions.viewer_for(other_browser) is None
    assert (await client.get("/profile")).status_code == 200  # this browser stays in
    assert await login.authenticate(manager["email"], "a brand new passphrase")


async def test_password_change_errors_name_the_field(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await log_in(client, manager)
    token = await csrf_token(client)
    response = await client.post(
        "/profile/password",
        data={
            "_csrf_token": token,
            "current_password": PASSWORD,
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert response.status_code == 400
    assert "New password must be at least 10 characters long" in response.text


async def test_api_token_is_shown_once_stored_hashed_and_works(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await log_in(client, manager)
    csrf = await csrf_token(client)
    page = await client.post("/profile/tokens", data={"_csrf_token": csrf, "name": "export"})
    assert page.status_code == 200
    import re

    plaintext = re.search(r'id="new-token">(imp_[^<]+)<', page.text).group(1)
    stored = await ApiToken.select(ApiToken.token_hash).where(ApiToken.user == manager["id"])
    assert stored == [{"token_hash": sessions.token_hash(plaintext)}]
    assert plaintext not in (await client.get("/profile")).text  # shown once only
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert me.status_code == 200 and me.json()["email"] == manager["email"]


async def test_revoked_token_is_refused(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    token = await api_token(manager)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
    row = await ApiToken.select(ApiToken.id).where(ApiToken.user == manager["id"]).first()
    await tokens.revoke(viewer_of(manager), row["id"])
    refused = await client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"


async def test_cookies_do_not_open_the_api_and_tokens_do_not_open_pages(client, world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    await log_in(client, manager)
    assert (await client.get("/api/v1/me")).status_code == 401
    token = await api_token(manager)
    client.cookies.clear()
    page = await client.get(
        "/", headers={"Authorization": f"Bearer {token}"}, follow_redirects=False
    )
    assert page.status_code == 303


async def test_passwords_are_argon2_hashes(world):
    manager = await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)
    row = await User.select(User.password_hash).where(User.id == manager["id"]).first()
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]


async def test_the_session_lookup_finds_the_same_viewer_as_the_access_layer(world):
    # viewer_for runs hand-written SQL (it is on every request); it must agree with the
    # columns access.viewer_columns reads for everyone else
    council = await world.org(OrgKind.COMMISSIONER, "Devon County Council")
    person = await world.user(council, Role.COMMISSIONER, "Ann O'Neil")
    token = await sessions.start(person["id"])
    assert await sessions.viewer_for(token) == viewer_of(await people.user(person["id"]))
    assert await sessions.viewer_for(token + "x") is None
