"""Database engine, write transactions and start-up checks for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from improve.settings import Settings

# How long a SQLite writer waits for the lock before failing (sqlite3 busy timeout).
SQLITE_BUSY_SECONDS = 30


class ReadingSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine without two costs the benchmark found on every request:

    - a read outside a transaction (the session lookup of every request; the reads of an
      API write before and after its write transaction) opened, set up and closed a
      connection of its own, about 5 ms. It now borrows an idle connection, in autocommit
      mode, and gives it back when its rows are read.
      Each read has its connection to itself. SQLite keeps one snapshot per connection
      for as long as any statement on it is unfinished, so a connection shared by
      concurrent reads answered a read that began after a commit from a snapshot taken
      before it (a PATCH's read-back missing its own write: 15-25 in a thousand under
      load). With a connection each, every read sees every commit made before it began.
    - every statement in a transaction first re-sent ``PRAGMA foreign_keys = 1``: one more
      round trip to the connection's thread, and a no-op inside a transaction (the
      connection got it when it was opened, in ``get_connection``).
    """

    # a subclass without __slots__ has a __dict__: the idle connections live there
    idle: list[aiosqlite.Connection] | None = None

    def read_transaction(self) -> SQLiteTransaction:
        """A deferred transaction (one consistent snapshot) on a pooled connection."""
        return _PooledReadTransaction(self, TransactionType.deferred)

    async def take(self) -> aiosqlite.Connection:
        if self.idle:
            return self.idle.pop()
        return await self._open()

    async def give_back(self, connection: aiosqlite.Connection, reusable: bool) -> None:
        if self.idle is None:
            self.idle = []
        if reusable and len(self.idle) < IDLE_READERS:
            self.idle.append(connection)
        else:
            await connection.close()

    async def _open(self) -> aiosqlite.Connection:
        pending = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's worker thread is not a daemon; one left open (a test's engine, a
        # crashed run) must not keep the process alive at exit
        thread = getattr(pending, "_thread", None)
        if thread is not None:
            thread.daemon = True
        connection = await pending
        connection.row_factory = dict_factory
        await connection.execute("PRAGMA foreign_keys = 1")
        return connection

    async def _run_in_new_connection(self, query, args=None, query_type="generic", table=None):
        if query_type != "generic" or not _is_read(query):
            return await super()._run_in_new_connection(query, args, query_type, table)
        connection = await self.take()
        reusable = False
        try:
            async with connection.execute(query, args or []) as cursor:
                rows = await cursor.fetchall()
            reusable = True  # finished, so no snapshot is left open on it
            return rows
        finally:
            await self.give_back(connection, reusable)

    async def _run_in_existing_connection(
        self, connection, query, args=None, query_type="generic", table=None
    ):
        if query_type == "insert":  # Piccolo's path (it reads back keys on old SQLite)
            return await super()._run_in_existing_connection(
                connection, query, args, query_type, table
            )
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()

    async def close_all(self) -> None:
        idle, self.idle = self.idle or [], []
        for connection in idle:
            await connection.close()


# connections kept open for reads (one per concurrent read; more are opened when needed)
IDLE_READERS = 16


class _PooledReadTransaction(SQLiteTransaction):
    """Piccolo's transaction, on a connection taken from the engine's idle ones and given
    back afterwards instead of being closed (opening one costs a thread and ~3 ms)."""

    async def get_connection(self):
        return await self.engine.take()

    async def __aexit__(self, exception_type, exception, traceback) -> bool:
        if self._parent:
            return exception is None
        reusable = True
        try:
            if exception and not self._rolled_back:
                await self.rollback()
            elif not exception and not self._committed and not self._rolled_back:
                await self.commit()
        except Exception:
            reusable = False  # its state is unknown: never hand it to another request
            raise
        finally:
            self.engine.current_transaction.reset(self.context)
            await self.engine.give_back(self.connection, reusable)
        return exception is None


def is_read_transaction(transaction: Any) -> bool:
    """A transaction of the read middleware (it never writes)."""
    return isinstance(transaction, _PooledReadTransaction)


def _is_read(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return ReadingSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_SECONDS)
    dsn = settings.database_url.replace("postgres://", "postgresql://", 1)
    return PostgresEngine(config={"dsn": dsn})


def engine() -> Engine:
    found = engine_finder()
    if found is None:
        raise RuntimeError("Piccolo found no engine: is PICCOLO_CONF=improve.piccolo_conf?")
    return found


def read_connection_middleware(app: Any) -> Any:
    """On SQLite, a page or API read runs on one connection (a deferred transaction, so
    one consistent snapshot), taken from the engine's idle ones: Piccolo otherwise opens,
    sets up and closes a connection for every query, about 5 ms each. PostgreSQL has its
    pool, and writes keep write_tx."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        db = engine()
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and isinstance(db, ReadingSQLiteEngine)  # make_engine's only SQLite engine
            and not scope["path"].startswith("/static/")
        ):
            async with db.read_transaction():
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


def write_tx() -> Any:
    """A transaction for work that writes.

    On SQLite it begins IMMEDIATE: a DEFERRED transaction that reads and then writes
    cannot upgrade its lock when another writer is active and fails with "database
    is locked" whatever the busy timeout; IMMEDIATE waits for the lock up front. The
    writers of one process also queue on an asyncio lock (``_one_writer``) first.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        return _one_writer(db)
    return db.transaction()


# SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps
# 1, 2, 5 … 100 ms between tries, so a writer often slept long after the lock was free
# (the benchmark's PATCH p95 on 8 connections). Queuing the writers of this process on an
# asyncio lock hands the database on the moment a transaction ends; writers in other
# processes still meet the busy timeout.
_writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _writer_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _writer_locks.get(loop)
    if lock is None:
        lock = _writer_locks[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _one_writer(db: SQLiteEngine) -> AsyncIterator[Any]:
    if db.current_transaction.get() is not None:  # nested: part of the outer transaction
        async with db.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
        return
    lock = _writer_lock()
    try:
        await asyncio.wait_for(lock.acquire(), SQLITE_BUSY_SECONDS)
        held = True
    except TimeoutError:  # a writer holding it this long: fall back on SQLite's own wait
        held = False
    try:
        async with db.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
    finally:
        if held:
            lock.release()


async def prepare(pool_size: int) -> None:
    """Per-process start-up: WAL on SQLite, the connection pool on PostgreSQL, and
    whether the data stamp that kept views rely on is there."""
    from improve import snapshots

    db = engine()
    if isinstance(db, SQLiteEngine):
        # WAL lets readers run beside the one writer; it persists in the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")
    elif isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=pool_size)
    await snapshots.detect(db)


async def release() -> None:
    db = engine()
    if isinstance(db, ReadingSQLiteEngine):
        await db.close_all()
    if isinstance(db, PostgresEngine) and db.pool is not None:
        await db.close_connection_pool()


async def ping() -> bool:
    try:
        await engine().run_ddl("SELECT 1")
    except Exception:  # any failure means "not ready"; the caller reports it
        return False
    return True


async def migrate() -> None:
    """Apply every committed migration. Run once before starting app instances."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from improve import snapshots

    result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
    db = engine()
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode=WAL")
    # made from the schema as it now stands, so a table a migration added is covered
    await snapshots.install(db)


def sqlite_file(db: Engine) -> Path | None:
    return Path(db.path) if isinstance(db, SQLiteEngine) else None
