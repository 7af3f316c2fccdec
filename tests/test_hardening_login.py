"""Login hardening (issue 15 point 5, and point 7's API tokens).

What an outside security test found, each reproduced here:

1. the login fields had no size limit and every failure was kept forever (a 10 MB email
   grew the database by 20 MB);
2. concurrent wrong guesses for one address were all checked by argon2 (the lock-out was
   checked before the hash and counted after it);
3. nothing limited attempts per client address, and nothing bounded how many hashes run
   at once;
4. wrong current passwords on the password-change form were never throttled;
5. a stranger could keep a known person locked out (the rules are tested here);
6. API tokens survived a password change or reset.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets

import httpx
import pytest
from conftest import PASSWORD, api_token, csrf_token, log_in

from improve import clock
from improve.accounts import login, passwords, people, resets, sessions
from improve.accounts.tables import LoginThrottle, OrgKind, Role, User
from improve.db import write_tx
from improve.errors import DomainError
from improve.settings import get_settings, override, use

NEW = "a fresh long passphrase 15"
# far from the real clock and from every other test's frozen times: the rows these tests
# write and prune are their own
T = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def restore_settings():
    saved = get_settings()
    yield
    use(saved)


@pytest.fixture
async def manager(world):
    return await world.user(await world.org(OrgKind.PROVIDER), Role.REGISTERED_MANAGER)


def _stranger() -> str:
    return f"stranger-{secrets.token_hex(6)}@example.org"


def _client_at(app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver.local")


async def _post_login(client: httpx.AsyncClient, email: str, password: str, **extra):
    token = await csrf_token(client)
    return await client.post(
        "/login",
        data={"_csrf_token": token, "email": email, "password": password, **extra},
        follow_redirects=False,
    )


async def _change_password(client, current: str, new: str, confirm: str | None = None, **extra):
    token = await csrf_token(client)
    return await client.post(
        "/profile/password",
        data={
            "_csrf_token": token,
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
            **extra,
        },
        follow_redirects=False,
    )


async def _hash_of(user_id: int) -> str:
    row = await User.select(User.password_hash).where(User.id == user_id).first()
    return row["password_hash"]


async def _throttled(key: str) -> dict | None:
    return await LoginThrottle.select().where(LoginThrottle.email == key).first()


# --- 1. every field is bounded, refused before anything is hashed or stored ---------------


async def test_an_oversized_login_email_is_refused_by_name_and_nothing_is_stored(client):
    long_email = "a" * 250 + "@example.org"  # 262 characters
    response = await _post_login(client, long_email, "some password")
    assert response.status_code == 400
    assert "Email address must be at most 254 characters" in response.text
    assert long_email not in response.text  # not echoed back either
    assert await _throttled(long_email) is None


async def test_an_oversized_login_password_or_next_is_refused_by_name(client):
    email = _stranger()
    response = await _post_login(client, email, "p" * (passwords.MAX_LENGTH + 1))
    assert response.status_code == 400
    assert f"Password must be at most {passwords.MAX_LENGTH} characters" in response.text
    response = await _post_login(client, email, "some password", next="/" + "x" * 3000)
    assert response.status_code == 400
    assert "The page to go back to (next) is too long" in response.text
    assert await _throttled(email) is None


async def test_a_huge_login_post_is_refused_before_it_is_read(client):
    email = "b" * 1_000_000 + "@example.org"
    response = await _post_login(client, email, "some password")
    assert response.status_code == 413
    assert await _throttled(email.lower()) is None


async def test_the_password_forms_bound_every_field(client, manager, world, smtp):
    too_long = "q" * (passwords.MAX_LENGTH + 1)
    await log_in(client, manager)
    before = await _hash_of(manager["id"])
    for field, data in (
        ("Current password", (too_long, NEW, NEW)),
        ("New password", (PASSWORD, too_long, too_long)),
        ("Confirm password", (PASSWORD, NEW, too_long)),
    ):
        response = await _change_password(client, *data)
        assert response.status_code == 400, field
        assert f"{field} must be at most {passwords.MAX_LENGTH} characters" in response.text
    assert await _throttled(f"user:{manager['id']}") is None  # not counted as a guess

    token = resets.make_token({"id": manager["id"], "password_hash": before}, clock.now())
    csrf = await csrf_token(client)
    reset = await client.post(
        f"/password/reset/{token}",
        data={"_csrf_token": csrf, "new_password": too_long, "confirm_password": too_long},
    )
    assert reset.status_code == 400
    assert f"New password must be at most {passwords.MAX_LENGTH} characters" in reset.text
    assert await _hash_of(manager["id"]) == before  # nothing was hashed or stored

    forgot = await client.post(
        "/password/forgot", data={"_csrf_token": csrf, "email": "c" * 250 + "@example.org"}
    )
    assert forgot.status_code == 400
    assert "Email address must be at most 254 characters" in forgot.text

    admin = await world.admin()
    await log_in(client, admin)
    csrf = await csrf_token(client)
    create = await client.post(
        "/admin/users",
        data={
            "_csrf_token": csrf,
            "email": _stranger(),
            "name": "Too Long",
            "organisation": str(manager["organisation"]),
            "role": "registered_manager",
            "password": too_long,
        },
    )
    assert create.status_code == 400
    assert f"must be at most {passwords.MAX_LENGTH} characters" in create.text
    set_by_admin = await client.post(
        f"/admin/users/{manager['id']}/password", data={"_csrf_token": csrf, "password": too_long}
    )
    assert set_by_admin.status_code == 400
    assert await _hash_of(manager["id"]) == before
    token = await api_token(admin)
    api = await client.post(
        "/api/v1/users",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "email": _stranger(),
            "name": "Too Long",
            "organisation": manager["organisation"],
            "role": "registered_manager",
            "password": too_long,
        },
    )
    assert api.status_code == 400
    assert [e["field"] for e in api.json()["errors"]] == ["password"]


# --- 1. throttle rows are pruned; old failures no longer count ----------------------------


async def test_failures_are_forgotten_a_day_after_the_last_and_their_rows_pruned(manager):
    free = get_settings().login_free_attempts
    email = manager["email"]
    with clock.frozen(T):
        for _ in range(free - 1):
            with pytest.raises(login.LoginRefused, match="do not match"):
                await login.authenticate(email, "wrong guess")
    with clock.frozen(T + dt.timedelta(hours=25)):
        # the earlier failures no longer count: free - 1 more are still only failures
        for _ in range(free - 1):
            with pytest.raises(login.LoginRefused, match="do not match"):
                await login.authenticate(email, "wrong guess")
    assert (await _throttled(email))["failures"] == free - 1


async def test_the_throttle_table_does_not_grow_without_bound(manager):
    """A stranger's address per failure (and per reset request), day after day: the rows
    of earlier days are pruned where new ones are written."""
    seen: list[str] = []
    per_day = 12
    for day in range(4):
        with clock.frozen(T + dt.timedelta(days=10, hours=25 * day)):
            for i in range(per_day):
                address = _stranger()
                seen.append(address)
                if i % 3:
                    with pytest.raises(login.LoginRefused):
                        await login.authenticate(address, "a guess")
                else:
                    assert await resets.request_link(address) is None
        kept = await LoginThrottle.count().where(LoginThrottle.email.is_in(seen))
        assert kept == per_day, f"day {day}: {kept} rows kept"


async def test_many_new_and_old_keys_at_once_while_old_rows_are_pruned(monkeypatch):
    """New keys prune stale ones while other attempts write: nothing waits for ever or
    fails (on PostgreSQL the pruning runs in its own transaction, so no two attempts can
    each hold a row the other needs)."""
    monkeypatch.setattr(passwords, "SLOT_WAIT_SECONDS", 60)  # every guess waits its turn
    old = [_stranger() for _ in range(6)]
    with clock.frozen(T + dt.timedelta(days=20)):
        for address in old:
            with pytest.raises(login.LoginRefused):
                await login.authenticate(address, "a guess")
    new = [_stranger() for _ in range(10)]
    with clock.frozen(T + dt.timedelta(days=21, hours=1)):
        results = await asyncio.gather(
            *(login.authenticate(a, "a guess") for a in old + new),
            *(resets.request_link(_stranger()) for _ in range(10)),
            return_exceptions=True,
        )
    refusals = results[:16]
    assert all(isinstance(r, login.LoginRefused) for r in refusals), refusals
    assert all("do not match" in str(r) for r in refusals)
    assert results[16:] == [None] * 10
    rows = await LoginThrottle.select(LoginThrottle.email, LoginThrottle.failures).where(
        LoginThrottle.email.is_in(old + new)
    )
    assert sorted(r["failures"] for r in rows) == [1] * 16


# --- 2. concurrent guesses: only the free attempts reach the hash -------------------------


async def test_concurrent_guesses_reach_the_hash_only_the_free_number_of_times(
    manager, monkeypatch
):
    monkeypatch.setattr(passwords, "SLOT_WAIT_SECONDS", 60)  # counting, not busy refusals
    free = get_settings().login_free_attempts
    results = await asyncio.gather(
        *(login.authenticate(manager["email"], f"guess {i}") for i in range(24)),
        return_exceptions=True,
    )
    messages = [str(r) for r in results]
    assert sum("do not match" in m for m in messages) == free, messages
    assert sum("Too many failed attempts" in m for m in messages) == 24 - free
    assert (await _throttled(manager["email"]))["failures"] == free


async def test_concurrent_guesses_through_the_app(client, manager, monkeypatch):
    monkeypatch.setattr(passwords, "SLOT_WAIT_SECONDS", 60)
    free = get_settings().login_free_attempts
    token = await csrf_token(client)

    async def guess(i: int) -> httpx.Response:
        return await client.post(
            "/login",
            data={"_csrf_token": token, "email": manager["email"], "password": f"guess {i}"},
            follow_redirects=False,
        )

    responses = await asyncio.gather(*(guess(i) for i in range(24)))
    assert [r.status_code for r in responses] == [400] * 24
    assert sum("do not match" in r.text for r in responses) == free
    assert sum("Too many failed attempts" in r.text for r in responses) == 24 - free


# --- 3. per client address, and bounded hashing --------------------------------------------


async def test_one_client_address_gets_a_limited_number_of_failed_attempts(
    app, manager, restore_settings
):
    override(login_address_attempts=3)
    with clock.frozen(T + dt.timedelta(days=30)):
        async with _client_at(app, "203.0.113.9") as attacker:
            for _ in range(2):
                assert (await _post_login(attacker, _stranger(), "guess")).status_code == 400
            # a success is given back: people behind one office address can log in
            for _ in range(3):
                assert (await _post_login(attacker, manager["email"], PASSWORD)).status_code == 303
                attacker.cookies.clear()
            assert (await _post_login(attacker, _stranger(), "guess")).status_code == 400
            fourth = _stranger()
            refused = await _post_login(attacker, fourth, "guess")
            assert refused.status_code == 429
            assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
            assert "Too many failed attempts from your network" in refused.text
            assert await _throttled(fourth) is None  # refused before counting or hashing
            # a forwarded-for header from the client itself is not believed
            spoofed = await attacker.post(
                "/login",
                data={
                    "_csrf_token": await csrf_token(attacker),
                    "email": _stranger(),
                    "password": "guess",
                },
                headers={"X-Forwarded-For": "198.51.100.77"},
            )
            assert spoofed.status_code == 429
            # nor the right password
            assert (await _post_login(attacker, manager["email"], PASSWORD)).status_code == 429
        async with _client_at(app, "203.0.113.10") as neighbour:
            assert (await _post_login(neighbour, _stranger(), "guess")).status_code == 400
    with clock.frozen(T + dt.timedelta(days=30, minutes=16)):
        async with _client_at(app, "203.0.113.9") as attacker:
            assert (await _post_login(attacker, _stranger(), "guess")).status_code == 400


async def test_an_ipv6_client_is_counted_by_its_64_bit_network(app, restore_settings):
    override(login_address_attempts=2)
    with clock.frozen(T + dt.timedelta(days=31)):
        for host in ("2001:db8:15:5::1", "2001:db8:15:5::2"):
            async with _client_at(app, host) as client:
                assert (await _post_login(client, _stranger(), "guess")).status_code == 400
        async with _client_at(app, "2001:db8:15:5:ffff::3") as client:
            assert (await _post_login(client, _stranger(), "guess")).status_code == 429
        async with _client_at(app, "2001:db8:15:6::1") as client:
            assert (await _post_login(client, _stranger(), "guess")).status_code == 400


async def test_address_rows_are_pruned_after_their_window(app, restore_settings):
    from improve.accounts.tables import LoginAddress

    hosts = [f"192.0.2.{i}" for i in range(1, 9)]
    with clock.frozen(T + dt.timedelta(days=40)):
        for host in hosts:
            async with _client_at(app, host) as client:
                await _post_login(client, _stranger(), "guess")
        assert await LoginAddress.count().where(LoginAddress.address.is_in(hosts)) == len(hosts)
    with clock.frozen(T + dt.timedelta(days=40, minutes=20)):
        async with _client_at(app, "192.0.2.200") as client:
            await _post_login(client, _stranger(), "guess")
        assert await LoginAddress.count().where(LoginAddress.address.is_in(hosts)) == 0


async def test_a_login_that_cannot_get_a_hashing_slot_is_told_to_retry(
    client, manager, restore_settings, monkeypatch
):
    override(login_concurrent_hashes=1)
    monkeypatch.setattr(passwords, "SLOT_WAIT_SECONDS", 0.2)
    async with passwords.hash_slot():  # someone else's hash holds the only slot
        busy = await _post_login(client, manager["email"], PASSWORD)
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == str(passwords.RETRY_AFTER_SECONDS)
    assert "busy" in busy.text
    row = await _throttled(manager["email"])
    assert row is None or row["failures"] == 0  # the refused attempt was not counted
    assert (await _post_login(client, manager["email"], PASSWORD)).status_code == 303


async def test_no_more_hashes_run_at_once_than_the_setting_allows(world, restore_settings):
    override(login_concurrent_hashes=2)
    provider = await world.org(OrgKind.PROVIDER)
    people_ = [await world.user(provider, Role.REGISTERED_MANAGER) for _ in range(6)]
    passwords.HASHING.peak = passwords.HASHING.running
    results = await asyncio.gather(
        *(login.authenticate(p["email"], PASSWORD) for p in people_), return_exceptions=True
    )
    assert passwords.HASHING.peak <= 2
    assert all(not isinstance(r, Exception) or "busy" in str(r) for r in results), results
    assert sum(not isinstance(r, Exception) for r in results) >= 2


async def test_a_password_being_hashed_does_not_hold_up_other_writes(manager):
    """argon2 runs before the write transaction, not inside it: on SQLite a transaction
    holds the one write lock, and every other write would wait out the hash."""
    order: list[str] = []

    async def change() -> None:
        await people.set_password(manager["id"], NEW)
        order.append("password")

    task = asyncio.create_task(change())
    for _ in range(5):
        await asyncio.sleep(0)
    async with write_tx():
        await User.update({User.digests_enabled: True}).where(User.id == manager["id"])
    order.append("other write")
    await task
    assert order == ["other write", "password"]


# --- 4. the password-change form counts wrong current passwords ---------------------------


async def test_wrong_current_passwords_lock_the_change_form(client, manager):
    free = get_settings().login_free_attempts
    before = await _hash_of(manager["id"])
    start = T + dt.timedelta(days=50)
    with clock.frozen(start):
        await log_in(client, manager)
        for _ in range(free):
            wrong = await _change_password(client, "not my password", NEW)
            assert wrong.status_code == 400 and "is not your current password" in wrong.text
        locked = await _change_password(client, PASSWORD, NEW)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) == 60
        assert "Current password was wrong too many times. Try again in 1 minute" in locked.text
        assert await _hash_of(manager["id"]) == before
    with clock.frozen(start + dt.timedelta(minutes=2)):
        assert (await _change_password(client, PASSWORD, NEW)).status_code == 303


async def test_concurrent_wrong_current_passwords_reach_the_hash_only_the_free_number(
    manager, monkeypatch
):
    monkeypatch.setattr(passwords, "SLOT_WAIT_SECONDS", 60)
    free = get_settings().login_free_attempts
    results = await asyncio.gather(
        *(people.change_own_password(manager["id"], f"guess {i}", NEW, NEW) for i in range(16)),
        return_exceptions=True,
    )
    assert all(isinstance(r, DomainError) for r in results)
    messages = [str(r) for r in results]
    assert sum("is not your current password" in m for m in messages) == free, messages
    assert sum("was wrong too many times" in m for m in messages) == 16 - free


# --- 5. a stranger cannot keep a known person out -----------------------------------------


async def _lock_out(app, email: str) -> None:
    async with _client_at(app, "198.51.100.23") as stranger:
        for _ in range(get_settings().login_free_attempts + 2):
            await _post_login(stranger, email, "a stranger's guess")
        locked = await _post_login(stranger, email, PASSWORD)
        assert "Too many failed attempts" in locked.text


async def test_a_lock_out_never_touches_a_session_already_logged_in(app, client, manager):
    with clock.frozen(T + dt.timedelta(days=60)):
        await log_in(client, manager)
        await _lock_out(app, manager["email"])
        assert (await client.get("/profile")).status_code == 200
        # the change form keeps its own count, which a stranger cannot add to
        changed = await _change_password(client, PASSWORD, NEW)
        assert changed.status_code == 303
        assert (await client.get("/profile")).status_code == 200


async def test_a_reset_link_works_while_locked_lifts_the_lock_and_logs_in(
    app, client, manager, smtp
):
    with clock.frozen(T + dt.timedelta(days=61)):
        await _lock_out(app, manager["email"])
        csrf = await csrf_token(client)
        sent = await client.post(
            "/password/forgot", data={"_csrf_token": csrf, "email": manager["email"]}
        )
        assert sent.status_code == 200
        [mail] = smtp.messages
        text = mail.get_body(("plain",)).get_content()
        link = re.search(r"http://testserver.local(/password/reset/\S+)", text)
        done = await client.post(
            link.group(1),
            data={"_csrf_token": csrf, "new_password": NEW, "confirm_password": NEW},
            follow_redirects=False,
        )
        # logged in at once: a stranger who locks the address again cannot keep them out
        assert done.status_code == 303 and done.headers["location"].startswith("/profile")
        token = client.cookies.get(sessions.COOKIE_NAME)
        assert (await sessions.viewer_for(token)).user_id == manager["id"]
        assert await _throttled(manager["email"]) is None  # the lock is lifted
        page = await client.get(done.headers["location"])
        assert "Your password is changed and you are logged in" in page.text


# --- 6. API tokens end with a password change or reset ------------------------------------


async def _token_works(client, token: str) -> bool:
    response = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


async def test_changing_the_password_ends_api_tokens_unless_the_owner_keeps_them(client, manager):
    await log_in(client, manager)
    profile = await client.get("/profile")
    assert 'name="keep_tokens"' in profile.text and "ends your API tokens" in profile.text
    token = await api_token(manager)
    assert await _token_works(client, token)
    changed = await _change_password(client, PASSWORD, NEW)
    assert changed.status_code == 303
    assert not await _token_works(client, token)
    page = await client.get(changed.headers["location"])
    assert "Your password is changed" in page.text and "1 API token was ended" in page.text

    kept = await api_token(manager)
    changed = await _change_password(client, NEW, NEW + "!", keep_tokens="on")
    assert changed.status_code == 303
    assert await _token_works(client, kept)
    page = await client.get(changed.headers["location"])
    assert "Your API tokens still work" in page.text


async def test_a_reset_ends_api_tokens(client, manager):
    token = await api_token(manager)
    row = await User.select(User.id, User.password_hash).where(User.id == manager["id"]).first()
    link = f"/password/reset/{resets.make_token(row, clock.now())}"
    csrf = await csrf_token(client)
    done = await client.post(
        link,
        data={"_csrf_token": csrf, "new_password": NEW, "confirm_password": NEW},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert not await _token_works(client, token)
    page = await client.get(done.headers["location"])
    assert "1 API token was ended" in page.text


async def test_an_administrators_reset_ends_api_tokens(client, manager, world):
    token = await api_token(manager)
    await log_in(client, await world.admin())
    csrf = await csrf_token(client)
    page = await client.post(
        f"/admin/users/{manager['id']}/password", data={"_csrf_token": csrf, "password": NEW}
    )
    assert page.status_code == 200 and "API tokens" in page.text
    assert not await _token_works(client, token)
