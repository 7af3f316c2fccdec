"""Views computed once per state of the data: the portfolios and the case page.

A commissioner's portfolio reads every service the organisation monitors; computing it
costs tens of milliseconds, and it is read far more often than the data under it
changes (sorting, filtering, the CSV after the page, forty commissioners on a Monday).
So each view is kept in memory under the **data stamp** it was computed at, and served
again while the stamp has not moved.

The stamp is one row, ``data_stamp (epoch, version)``, that the database itself bumps:
a trigger on every table a page shows adds one to ``version`` in the same transaction
as the change. No write path can forget it (raw SQL, imports and the admin included),
and a change is seen by every app instance, since each reads the stamp from the
database. The triggers are made from the schema by :func:`install` (run by
``improve migrate``), so a table added later is covered without anyone remembering to;
only the tables in ``UNSTAMPED`` (sessions, tokens, log-in throttles, the mail outbox:
nothing a view shows) are left out, and a test keeps that list honest.

Consistency: the stamp is read *before* the view's own queries. A change committed in
between can only make the kept view newer than its stamp, never older, and the next
request reads the newer stamp and computes again. On SQLite a page's reads share one
snapshot anyway (``db.read_connection_middleware``).

PostgreSQL: the triggers fire ``BEFORE ... FOR EACH STATEMENT``, so a transaction takes
the stamp row's lock before it locks any row of its own; writers queue on the stamp in
one order and cannot deadlock on it. Writes here are people at keyboards: a few a
second at most, each a few milliseconds long.

If the stamp table is missing, or a table has no trigger (a database migrated by bare
``piccolo migrations forwards``), views are computed every time: slower, never stale.
"""

from __future__ import annotations

import logging
import pickle
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.querystring import QueryString

from improve import clock
from improve.settings import get_settings

log = logging.getLogger(__name__)

# Tables no cached view reads: who is logged in, API tokens, failed log-ins, mail waiting
# to be sent. Bumping the stamp for them would throw views away on every request.
UNSTAMPED = frozenset(
    {"user_session", "api_token", "login_throttle", "login_address", "outbox", "data_stamp"}
)
# SQLite's internal tables (sqlite_sequence, sqlite_stat1); Piccolo's "migration" table is
# stamped like any other: it only changes when the schema does.
_INTERNAL_PREFIXES = ("sqlite_",)
MB = 1024 * 1024

STAMP_SQL = "SELECT epoch, version FROM data_stamp WHERE id = 1"

_SQLITE_TABLE = """
CREATE TABLE IF NOT EXISTS data_stamp (
    id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL, version INTEGER NOT NULL
)"""
_SQLITE_ROW = "INSERT OR IGNORE INTO data_stamp VALUES (1, lower(hex(randomblob(8))), 0)"
_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS "data_stamp_{table}_{event}" AFTER {event} ON "{table}"
BEGIN UPDATE data_stamp SET version = version + 1 WHERE id = 1; END"""

_PG_TABLE = """
CREATE TABLE IF NOT EXISTS data_stamp (
    id integer PRIMARY KEY CHECK (id = 1), epoch text NOT NULL, version bigint NOT NULL
)"""
_PG_ROW = """
INSERT INTO data_stamp VALUES (1, md5(random()::text || clock_timestamp()::text), 0)
ON CONFLICT (id) DO NOTHING"""
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION data_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE data_stamp SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END $$"""
_PG_TRIGGER = """
CREATE OR REPLACE TRIGGER "data_stamp_{table}"
BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}"
FOR EACH STATEMENT EXECUTE FUNCTION data_stamp_bump()"""


def _stamped(tables: list[str]) -> list[str]:
    return sorted(t for t in tables if t not in UNSTAMPED and not t.startswith(_INTERNAL_PREFIXES))


async def tables_of(db: Any) -> list[str]:
    if isinstance(db, SQLiteEngine):
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    return [r["name"] for r in await db.run_querystring(QueryString(sql))]


async def stamped_tables(db: Any) -> list[str]:
    """The tables whose changes move the stamp (every table but ``UNSTAMPED``)."""
    return _stamped(await tables_of(db))


async def install(db: Any) -> int:
    """Create the stamp and a trigger on every stamped table; safe to run again.
    Returns how many tables are stamped."""
    tables = await stamped_tables(db)
    if isinstance(db, SQLiteEngine):
        statements = [_SQLITE_TABLE, _SQLITE_ROW] + [
            _SQLITE_TRIGGER.format(table=t, event=event)
            for t in tables
            for event in ("INSERT", "UPDATE", "DELETE")
        ]
    elif isinstance(db, PostgresEngine):
        statements = [_PG_TABLE, _PG_ROW, _PG_FUNCTION] + [
            _PG_TRIGGER.format(table=t) for t in tables
        ]
    else:  # pragma: no cover (make_engine builds only these two)
        raise TypeError(f"no data stamp for {type(db).__name__}")
    for sql in statements:
        await db.run_ddl(sql)
    return len(tables)


async def triggered_tables(db: Any) -> set[str]:
    """The tables that carry a data-stamp trigger."""
    if isinstance(db, SQLiteEngine):
        sql = "SELECT tbl_name AS t FROM sqlite_master WHERE type = 'trigger'"
        sql += " AND name LIKE 'data_stamp_%'"
    else:
        sql = "SELECT c.relname AS t FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid"
        sql += " WHERE g.tgname LIKE 'data_stamp_%'"
    return {r["t"] for r in await db.run_querystring(QueryString(sql))}


# Whether this process found the stamp complete at start-up (``db.prepare``): asking for
# a table that is not there would abort a PostgreSQL transaction, so it is asked once.
_installed = False


async def detect(db: Any) -> bool:
    """Keep views only if the stamp is there and every table moves it. A table that a
    migration added without ``improve migrate`` (bare ``piccolo migrations forwards``)
    has no trigger: a view reading it could be served stale, so nothing is kept."""
    global _installed
    tables = await tables_of(db)
    missing = set(_stamped(tables)) - await triggered_tables(db)
    _installed = "data_stamp" in tables and not missing
    if "data_stamp" in tables and missing:
        log.warning(
            "Views are not kept: %s have no data-stamp trigger; run `improve migrate`",
            ", ".join(sorted(missing)),
        )
    return _installed


async def current() -> tuple[str, int] | None:
    """The data stamp now: (epoch, version); None if it is not installed."""
    from improve.db import engine

    if not _installed:
        return None
    rows = await engine().run_querystring(QueryString(STAMP_SQL))
    return (rows[0]["epoch"], rows[0]["version"]) if rows else None


class Views:
    """Kept views of the newest stamp seen, within a budget of bytes, least recently used
    dropped first.

    Each is kept pickled: a bytes object the garbage collector never walks (a thousand
    case pages kept as dicts are a million objects, and every full collection stopped the
    server for as long as it took to walk them: over 100 ms), and every request gets its
    own copy, so no caller can change what the next one is served. Unpickling costs
    0.15 ms for a case page, 1 ms for a quality view of fifty homes.
    """

    def __init__(self) -> None:
        self.stamp: tuple[str, int] | None = None
        self.kept: OrderedDict[Hashable, bytes] = OrderedDict()
        self.size = 0  # bytes kept
        self.hits = self.misses = 0

    def get(self, stamp: tuple[str, int], key: Hashable) -> Any | None:
        if stamp != self.stamp or key not in self.kept:
            self.misses += 1
            return None
        self.hits += 1
        self.kept.move_to_end(key)
        return pickle.loads(self.kept[key])  # noqa: S301 (our own bytes, made in this process)

    def put(self, stamp: tuple[str, int], key: Hashable, value: Any, budget: int) -> None:
        if self.stamp is not None and stamp[0] == self.stamp[0] and stamp[1] < self.stamp[1]:
            # computed by a request that read the stamp before a later commit: right for
            # its own state, which no request will ask for again; the newer views stay
            return
        if stamp != self.stamp:
            # Another state of the data (newer; or another epoch: a restored backup):
            # whatever was kept belongs to another state, so none of it may be served.
            self.clear()
            self.stamp = stamp
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > budget:
            return
        self.size += len(data) - len(self.kept.get(key, b""))
        self.kept[key] = data
        self.kept.move_to_end(key)
        while self.size > budget:
            _, dropped = self.kept.popitem(last=False)
            self.size -= len(dropped)

    def clear(self) -> None:
        self.stamp = None
        self.kept.clear()
        self.size = 0


VIEWS = Views()


def _in_write_transaction() -> bool:
    """Inside a write transaction the stamp may count changes that will be rolled back,
    and the version number then reused by a different change: never keep or serve there."""
    from improve.db import engine, is_read_transaction

    current = engine().current_transaction.get()
    return current is not None and not is_read_transaction(current)


async def kept(key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
    """The view under ``key`` as of the current stamp and today's date, computed by
    ``compute`` when not kept. Each caller gets a copy of its own."""
    budget = get_settings().kept_views_mb * MB
    if not budget or _in_write_transaction():
        return await compute()
    stamp = await current()
    if stamp is None:
        return await compute()
    key = (key, clock.today())
    found = VIEWS.get(stamp, key)
    if found is not None:
        return found
    value = await compute()
    VIEWS.put(stamp, key, value, budget)
    return value
