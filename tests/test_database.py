"""The database: schema from migrations, SQLite settings, concurrency, transactions."""

from __future__ import annotations

import asyncio

import pytest
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import TABLE_REGISTRY

from improve import db
from improve.accounts.tables import LoginThrottle, OrgKind
from improve.db import write_tx
from improve.errors import Invalid
from improve.services import domain as services
from improve.services.tables import Commissioning, Service

sqlite_only = pytest.mark.skipif(
    not isinstance(db.engine(), SQLiteEngine), reason="SQLite behaviour"
)


async def test_every_table_was_created_by_a_migration():
    # the schema fixture ran only the committed migrations; every table must answer
    for table in TABLE_REGISTRY:
        # (a migration's own RawTable is a handle for raw SQL, not a table)
        if table.__module__.startswith("improve.") and ".piccolo_migrations." not in (
            table.__module__
        ):
            await table.count()


async def test_migrations_are_recorded_and_idempotent():
    await db.migrate()  # a second run applies nothing and does not fail
    rows = await db.engine().run_ddl("SELECT name, app_name FROM migration")
    assert {r["app_name"] for r in rows} >= {"accounts", "services"}


@sqlite_only
async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout():
    engine = db.engine()
    mode = await engine.run_ddl("PRAGMA journal_mode")
    assert mode[0]["journal_mode"] == "wal"
    keys = await engine.run_ddl("PRAGMA foreign_keys")
    assert keys[0]["foreign_keys"] == 1
    assert engine.connection_kwargs["timeout"] >= 10


async def test_concurrent_read_then_write_transactions_never_fail():
    """50 requests each read a counter then write it back: none fails with
    'database is locked'. On SQLite the IMMEDIATE transactions also serialise them, so no
    update is lost; PostgreSQL's READ COMMITTED does not (domain code that counts uses
    atomic updates or version checks instead)."""
    email = "counter@example.org"
    await LoginThrottle.insert(LoginThrottle(email=email, failures=0))

    async def bump():
        async with write_tx():
            row = (
                await LoginThrottle.select(LoginThrottle.failures)
                .where(LoginThrottle.email == email)
                .first()
            )
            await asyncio.sleep(0)
            await LoginThrottle.update({LoginThrottle.failures: row["failures"] + 1}).where(
                LoginThrottle.email == email
            )

    await asyncio.gather(*(bump() for _ in range(50)))
    row = (
        await LoginThrottle.select(LoginThrottle.failures)
        .where(LoginThrottle.email == email)
        .first()
    )
    if isinstance(db.engine(), SQLiteEngine):
        assert row["failures"] == 50
    else:
        assert 1 <= row["failures"] <= 50


async def test_concurrent_failed_logins_are_all_counted():
    from improve.accounts import login

    email = "racing@example.org"

    async def fail():
        try:
            await login.authenticate(email, "wrong")
        except login.LoginRefused:
            pass

    await asyncio.gather(*(fail() for _ in range(20)))
    row = (
        await LoginThrottle.select(LoginThrottle.failures)
        .where(LoginThrottle.email == email)
        .first()
    )
    assert row["failures"] >= 5  # lock-out started; later attempts are refused unread


async def test_multi_row_change_is_all_or_nothing(world):
    """A service and its commissioner links are written in one transaction."""
    from conftest import viewer_of

    admin = await world.admin()
    provider = await world.org(OrgKind.PROVIDER)
    council = await world.org(OrgKind.COMMISSIONER)
    before = await Service.count()
    links_before = await Commissioning.count()
    # the second link is a duplicate of the first: the unique index refuses it
    original = services._check_commissioners

    async def duplicated(ids):
        return [*(await original(ids)), council["id"]]

    services._check_commissioners = duplicated
    try:
        with pytest.raises(Exception):  # noqa: B017 (either engine's IntegrityError)
            await services.create(
                viewer_of(admin),
                {
                    "name": "Half written",
                    "provider": provider["id"],
                    "commissioners": [council["id"]],
                },
            )
    finally:
        services._check_commissioners = original
    assert await Service.count() == before
    assert await Commissioning.count() == links_before


async def test_bad_input_writes_nothing_and_names_every_field(world):
    from conftest import viewer_of

    admin = await world.admin()
    before = await Service.count()
    with pytest.raises(Invalid) as refused:
        await services.create(viewer_of(admin), {"name": "", "beds": "many", "provider": ""})
    assert set(refused.value.errors) == {"name", "beds"}
    assert await Service.count() == before


@sqlite_only
async def test_pooled_read_connections_see_every_commit(world):
    """Read transactions and reads outside a transaction reuse idle connections: neither
    may ever answer from an old snapshot."""
    engine = db.engine()
    provider = await world.org(OrgKind.PROVIDER)

    async def services_now() -> int:
        return await Service.count().where(Service.provider == provider["id"])

    async with engine.read_transaction():
        assert await services_now() == 0
    pooled = list(engine.idle)
    await world.service(provider)  # written on a connection of its own
    async with engine.read_transaction():
        assert await services_now() == 1
    assert engine.idle == pooled  # the same connection, given back again
    assert await services_now() == 1  # a read outside any transaction, on an idle connection
    await world.service(provider)
    assert await services_now() == 2


@sqlite_only
async def test_a_read_transaction_that_fails_leaves_no_transaction_open(world):
    engine = db.engine()
    with pytest.raises(RuntimeError):
        async with engine.read_transaction():
            await Service.count()
            raise RuntimeError("the page broke")
    assert engine.current_transaction.get() is None
    async with write_tx():  # a writer is not kept waiting by the failed read
        await LoginThrottle.delete().where(LoginThrottle.email == "nobody@example.test")
    async with engine.read_transaction():
        assert await Service.count() >= 0


@sqlite_only
async def test_sqlite_writers_of_one_process_take_turns_and_nest():
    """Writers queue on the process's own lock (never in SQLite's sleeping busy handler):
    one at a time, each to its end; a write_tx inside another is part of it."""
    inside, most = 0, 0

    async def write(n: int):
        nonlocal inside, most
        async with write_tx():
            assert db._writer_lock().locked()  # the turn is the process's, not SQLite's
            inside += 1
            most = max(most, inside)
            await LoginThrottle.insert(LoginThrottle(email=f"turns{n}@example.org", failures=n))
            await asyncio.sleep(0.001)
            async with write_tx():  # nested: no second turn to wait for
                await LoginThrottle.update({LoginThrottle.failures: n + 1}).where(
                    LoginThrottle.email == f"turns{n}@example.org"
                )
            inside -= 1

    await asyncio.gather(*(write(n) for n in range(20)))
    assert most == 1
    rows = await LoginThrottle.select(LoginThrottle.failures).where(
        LoginThrottle.email.like("turns%@example.org")
    )
    assert sorted(r["failures"] for r in rows) == list(range(1, 21))
