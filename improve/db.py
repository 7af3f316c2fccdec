"""Database engine, write transactions and start-up checks for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from improve.settings import Settings

# How long a SQLite writer waits for the lock before failing (sqlite3 busy timeout).
SQLITE_BUSY_SECONDS = 30


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_SECONDS)
    dsn = settings.database_url.replace("postgres://", "postgresql://", 1)
    return PostgresEngine(config={"dsn": dsn})


def engine() -> Engine:
    found = engine_finder()
    if found is None:
        raise RuntimeError("Piccolo found no engine: is PICCOLO_CONF=improve.piccolo_conf?")
    return found


def read_connection_middleware(app: Any) -> Any:
    """On SQLite, a page or API read runs on one connection (a deferred transaction, so
    one consistent snapshot): Piccolo otherwise opens, sets up and closes a connection for
    every query, about 5 ms each. PostgreSQL has its pool, and writes keep write_tx."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        db = engine()
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and isinstance(db, SQLiteEngine)
            and not scope["path"].startswith("/static/")
        ):
            async with db.transaction():
                await app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return middleware


def write_tx() -> Any:
    """A transaction for work that writes.

    On SQLite it begins IMMEDIATE: a DEFERRED transaction that reads and then writes
    cannot upgrade its lock when another writer is active and fails with "database
    is locked" whatever the busy timeout; IMMEDIATE waits for the lock up front.
    """
    db = engine()
    if isinstance(db, SQLiteEngine):
        return db.transaction(transaction_type=TransactionType.immediate)
    return db.transaction()


async def prepare(pool_size: int) -> None:
    """Per-process start-up: WAL on SQLite, the connection pool on PostgreSQL."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        # WAL lets readers run beside the one writer; it persists in the file.
        await db.run_ddl("PRAGMA journal_mode=WAL")
    elif isinstance(db, PostgresEngine):
        await db.start_connection_pool(min_size=1, max_size=pool_size)


async def release() -> None:
    db = engine()
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

    result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}")
    db = engine()
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode=WAL")


def sqlite_file(db: Engine) -> Path | None:
    return Path(db.path) if isinstance(db, SQLiteEngine) else None
