"""Backups that restore: ``improve backup DEST`` and ``improve restore SRC``.

A backup is a folder, readable only by its owner (it holds personal data):

    manifest.json     what it holds: the app version, the database engine and version, the
                      migrations applied, each table's row count, when it was taken, and
                      every file's size and SHA-256
    manifest.sha256   the manifest's own checksum (``sha256sum -c manifest.sha256``)
    database.sqlite   SQLite: a copy taken with SQLite's online backup API
    database.sql      PostgreSQL: ``pg_dump``'s plain SQL, from one snapshot
    files/<name>      the evidence files the database copy refers to

It is written under a hidden ``.DEST.partial-*`` name and renamed to DEST at the end, so
a folder called DEST is always a whole backup.

Consistency, while the service runs. The database is copied first, as one snapshot (the
backup API copies a WAL database in one step without stopping writers; ``pg_dump`` runs
in a snapshot this module exports, in which it also reads which evidence files exist),
and the files to copy are read from that snapshot, never from the live database:

- an evidence file is written before its row is committed (``evidence.domain.add``), so
  every row in the snapshot has its file in storage when the snapshot is taken;
- a withdrawal commits first and deletes the file after, so a file named by the snapshot
  can vanish before it is copied. Then the database is copied again (that evidence is
  withdrawn in the new snapshot) and the copy of the files completed, up to
  ``SNAPSHOT_TRIES`` times. A file missing from two snapshots in a row was missing from
  storage before the backup: the manifest lists it under ``missing_from_storage``, and
  restore accepts those rows without their file (it cannot bring back what was lost);
- files no row of the snapshot refers to (uploaded after it, or withdrawn before it) are
  not copied, only named under ``not_copied``: a withdrawn file must not come back with a
  restore. Withdrawn rows that still name a file have it copied if it is there, never
  required (the service never serves them).

Restore goes into an EMPTY installation only (a database without tables, an upload
folder without files), and checks before it writes: the manifest against its checksum,
every file's size and SHA-256 against the manifest, the engine, and that this version of
the code has every migration the backup has. Files are written first, the database
last, as one step (a new SQLite file renamed into place; ``psql --single-transaction``
on PostgreSQL). Before that step commits, the restored database's migration list and row
counts are compared with the manifest and every evidence row's file must be among those
restored; if anything fails, the files written are removed and the database is left as
it was. After it, the same checks are run again on the installation as the app sees it.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from improve import __version__, clock
from improve import settings as settings_module

FORMAT = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
FILES = "files"
DATABASE_FILE = {"sqlite": "database.sqlite", "postgresql": "database.sql"}
SNAPSHOT_TRIES = 3
SQLITE_BUSY_SECONDS = 30
# evidence.domain.add names files secrets.token_hex(16); anything else in a manifest or a
# row is refused, so a doctored backup cannot write outside the upload folder
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MIGRATION_PART = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
_CHUNK = 1 << 20
NOT_COPIED_WHY = (
    "in the upload folder but named by no row of the database copy: uploaded after the "
    "copy was taken, or withdrawn"
)


class BackupError(Exception):
    """A backup or restore refused or failed. ``problems`` lists what was found, one line
    each (the files that failed their checksum, the rows that do not match)."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        text = message + "".join(f"\n  {p}" for p in self.problems)
        super().__init__(text)


# --- what a snapshot of the database says -------------------------------------------------


@dataclass
class EvidenceFile:
    evidence_id: int
    stored_name: str
    sha256: str
    withdrawn: bool


@dataclass
class Snapshot:
    migrations: list[dict[str, str]]  # [{"app": ..., "name": ...}], sorted
    tables: dict[str, int]  # row count of every table
    evidence: list[EvidenceFile]  # the rows that name a stored file
    server_version: str
    schema: str = ""  # PostgreSQL: the schema the app's tables live in
    tool_version: str = ""  # PostgreSQL: pg_dump --version


def _engine_of(database_url: str) -> str:
    if database_url.startswith("sqlite:"):
        return "sqlite"
    if database_url.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    raise BackupError("IMPROVE_DATABASE_URL must start with sqlite:/// or postgresql://")


def shown_database(database_url: str) -> str:
    """The database named for people: the SQLite file, or the URL without its password."""
    if _engine_of(database_url) == "sqlite":
        return str(_sqlite_path(database_url))
    return _libpq(database_url)[0]


def _sqlite_path(database_url: str) -> Path:
    """The same convention as Settings.sqlite_path: three slashes relative, four absolute."""
    return Path(database_url.removeprefix("sqlite:///"))


def _sorted_migrations(rows: Any) -> list[dict[str, str]]:
    """Sorted here, not by the database: PostgreSQL sorts text by the database's collation."""
    return [{"app": a, "name": n} for a, n in sorted((a, n) for a, n in rows)]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# {table}: a name read from the database's catalogue, quoted with _quote
_COUNT_SQL = "SELECT count(*) FROM {table}"
_MIGRATIONS_SQL = "SELECT app_name, name FROM {table}"
_EVIDENCE_SQL = (
    "SELECT id, stored_name, sha256, withdrawn_at IS NOT NULL AS withdrawn "
    "FROM {evidence} WHERE stored_name <> '' ORDER BY id"
)


def _read_sqlite(conn: sqlite3.Connection) -> Snapshot:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    if "migration" not in tables:
        raise BackupError(
            "The database has no migration table: it was never set up (run improve migrate), "
            "or IMPROVE_DATABASE_URL points at the wrong file."
        )
    migrations = _sorted_migrations(conn.execute(_MIGRATIONS_SQL.format(table="migration")))
    counts = {t: conn.execute(_COUNT_SQL.format(table=_quote(t))).fetchone()[0] for t in tables}
    evidence = []
    if "evidence" in tables:
        evidence = [
            EvidenceFile(i, s, h, bool(w))
            for i, s, h, w in conn.execute(_EVIDENCE_SQL.format(evidence="evidence"))
        ]
    return Snapshot(migrations, counts, evidence, sqlite3.sqlite_version)


def _sqlite_snapshot(source: Path, target: Path) -> Snapshot:
    """A copy of the live database taken with SQLite's online backup API, in one step: it
    reads one snapshot (in WAL mode writers go on meanwhile), and the copy is one file
    (rollback journal, not WAL) read back for the rest of the backup."""
    if not source.is_file():
        raise BackupError(
            f"There is no database at {source}: check IMPROVE_DATABASE_URL (a relative path "
            "is taken from the current directory)."
        )
    live = sqlite3.connect(
        source.resolve().as_uri() + "?mode=rw", uri=True, timeout=SQLITE_BUSY_SECONDS
    )
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # owner only
        copy = sqlite3.connect(target)
        try:
            live.backup(copy)  # pages=-1: all of it in one step, one read snapshot
            copy.execute("PRAGMA journal_mode=DELETE")
            return _read_sqlite(copy)
        finally:
            copy.close()
    finally:
        live.close()


# --- PostgreSQL: pg_dump and psql from PATH ---------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH: PostgreSQL backups use PostgreSQL's own {name}. "
            "Install the client of the server's major version (Debian: postgresql-client-15 "
            "for a 15 server) and run again."
        )
    return found


async def _run(*command: str, env: dict[str, str] | None = None) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=settings_module.child_environment(env),
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        tool = Path(command[0]).name
        lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        # what went wrong, not the statement it was in
        said = [line for line in lines if _TOOL_MESSAGE.search(line)] or lines[-20:]
        raise BackupError(f"{tool} failed (exit status {process.returncode}):", said)
    return out.decode(errors="replace")


_TOOL_MESSAGE = re.compile(r"\b(ERROR|FATAL|DETAIL|HINT|error|fatal):")


async def _tool_major(tool: str) -> tuple[int, str]:
    text = (await _run(tool, "--version")).strip()
    match = re.search(r"\(PostgreSQL\) (\d+)", text)
    if match is None:
        raise BackupError(f"{tool} --version said {text!r}: not a PostgreSQL client")
    return int(match.group(1)), text


def _libpq(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/psql without its password, which goes in PGPASSWORD instead
    (a command line can be read by other users of the machine)."""
    url = database_url.replace("postgres://", "postgresql://", 1)
    parts = urlsplit(url)
    env: dict[str, str] = {}
    if parts.password is not None:
        env["PGPASSWORD"] = unquote(parts.password)
        host = parts.netloc.rsplit("@", 1)[1]
        user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
        parts = parts._replace(netloc=f"{user}@{host}")
    return urlunsplit(parts), env


async def _connect(database_url: str):
    import asyncpg

    return await asyncpg.connect(database_url.replace("postgres://", "postgresql://", 1))


async def _read_postgres(conn: Any) -> Snapshot:
    schema = await conn.fetchval("SELECT current_schema()")
    tables = [
        r["tablename"]
        for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
        )
    ]
    if "migration" not in tables:
        raise BackupError(
            "The database has no migration table: it was never set up (run improve migrate), "
            "or IMPROVE_DATABASE_URL points at the wrong database."
        )
    q = _quote(schema) + "."
    migrations = _sorted_migrations(
        (r["app_name"], r["name"])
        for r in await conn.fetch(_MIGRATIONS_SQL.format(table=f"{q}migration"))
    )
    counts = {t: await conn.fetchval(_COUNT_SQL.format(table=q + _quote(t))) for t in tables}
    evidence = []
    if "evidence" in tables:
        rows = await conn.fetch(_EVIDENCE_SQL.format(evidence=f"{q}evidence"))
        evidence = [
            EvidenceFile(r["id"], r["stored_name"], r["sha256"], r["withdrawn"]) for r in rows
        ]
    version = await conn.fetchval("SHOW server_version")
    return Snapshot(migrations, counts, evidence, version, schema=schema)


async def _server_major(conn: Any) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


async def _postgres_snapshot(database_url: str, target: Path) -> Snapshot:
    """pg_dump and our own reads in one snapshot: a repeatable-read transaction exports
    it, reads the rows the backup needs, and pg_dump joins it (``--snapshot``)."""
    pg_dump = _pg_tool("pg_dump")
    conn = await _connect(database_url)
    try:
        server = await _server_major(conn)
        tool, tool_text = await _tool_major(pg_dump)
        if tool != server:
            raise BackupError(
                f"{pg_dump} is version {tool} but the server is PostgreSQL {server}: a dump "
                f"must be made with the server's own major version. Install "
                f"postgresql-client-{server} and put its pg_dump first on PATH."
            )
        url, env = _libpq(database_url)
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot_id = await conn.fetchval("SELECT pg_export_snapshot()")
            snapshot = await _read_postgres(conn)
            await _run(
                pg_dump,
                "--format=plain",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot_id}",
                f"--file={target}",
                f"--dbname={url}",
                env=env,
            )
        os.chmod(target, 0o600)
        snapshot.tool_version = tool_text
        return snapshot
    finally:
        await conn.close()


async def _snapshot(engine: str, database_url: str, target: Path) -> Snapshot:
    if engine == "sqlite":
        return await asyncio.to_thread(_sqlite_snapshot, _sqlite_path(database_url), target)
    return await _postgres_snapshot(database_url, target)


# --- files --------------------------------------------------------------------------------


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy(source: Path, target: Path, mode: int = 0o600) -> tuple[int, str]:
    """Copy a file, fsynced, returning its size and SHA-256 as read (one pass)."""
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as r:  # FileNotFoundError before anything is created
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as w:
            while chunk := r.read(_CHUNK):
                digest.update(chunk)
                w.write(chunk)
                size += len(chunk)
            w.flush()
            os.fsync(w.fileno())
    return size, digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_evidence(
    snapshot: Snapshot, upload_dir: Path, into: Path, copied: dict[str, dict]
) -> list[EvidenceFile]:
    """Copy the files the snapshot names that are not copied yet; the rows whose file is
    required (not withdrawn) but missing from storage."""
    missing = []
    for row in snapshot.evidence:
        if row.stored_name in copied:
            continue
        if not _SAFE_NAME.fullmatch(row.stored_name):
            raise BackupError(
                f"Evidence {row.evidence_id} names a stored file {row.stored_name!r}, which "
                "is not a name the service makes: the database was changed by hand."
            )
        try:
            size, digest = _copy(upload_dir / row.stored_name, into / row.stored_name)
        except FileNotFoundError:
            if not row.withdrawn:
                missing.append(row)
            continue
        copied[row.stored_name] = {"size": size, "sha256": digest}
    return missing


def _upload_entries(upload_dir: Path) -> list[str]:
    if not upload_dir.is_dir():
        return []
    return sorted(p.name for p in upload_dir.iterdir())


# --- backup -------------------------------------------------------------------------------


def _now() -> str:
    return clock.now().isoformat(timespec="seconds")


async def backup(dest: Path, *, database_url: str, upload_dir: Path) -> dict[str, Any]:
    """Back up the database and the evidence files into the new folder ``dest``, while the
    service runs; returns the manifest (also written as ``dest/manifest.json``)."""
    dest = Path(dest)
    upload_dir = Path(upload_dir)
    engine = _engine_of(database_url)
    if engine == "postgresql":
        _pg_tool("pg_dump")  # before anything is made
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(
            f"{dest} already exists: back up into a new folder each time (one per date, "
            "say), so no backup is ever overwritten."
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))  # 0700
    try:
        created_at = _now()
        (stage / FILES).mkdir(mode=0o700)
        database_file = stage / DATABASE_FILE[engine]
        copied: dict[str, dict] = {}
        missing: list[EvidenceFile] = []
        for _ in range(SNAPSHOT_TRIES):
            before = {row.evidence_id for row in missing}
            database_file.unlink(missing_ok=True)
            snapshot = await _snapshot(engine, database_url, database_file)
            missing = await asyncio.to_thread(
                _copy_evidence, snapshot, upload_dir, stage / FILES, copied
            )
            # a file withdrawn after the snapshot is withdrawn in the next one; a file
            # missing from two snapshots in a row was missing from storage already
            if {row.evidence_id for row in missing} <= before:
                break
        named = {row.stored_name for row in snapshot.evidence}
        for name in sorted(set(copied) - named):  # withdrawn since an earlier snapshot
            (stage / FILES / name).unlink()
            del copied[name]
        database_size, database_sha = await asyncio.to_thread(_sha256, database_file)
        by_name = {row.stored_name: row for row in snapshot.evidence}
        manifest = {
            "format": FORMAT,
            "app": "improve",
            "app_version": __version__,
            "created_at": created_at,
            "finished_at": _now(),
            "database": {
                "engine": engine,
                "server_version": snapshot.server_version,
                "dump_tool": snapshot.tool_version,
                "schema": snapshot.schema,
                "file": DATABASE_FILE[engine],
                "migrations": snapshot.migrations,
                "tables": snapshot.tables,
            },
            "evidence": {
                "files": len(copied),
                "bytes": sum(entry["size"] for entry in copied.values()),
                # named by a row of the copy, not withdrawn, but not in storage
                "missing_from_storage": [
                    {"evidence_id": row.evidence_id, "stored_name": row.stored_name}
                    for row in missing
                ],
                # copied as found, but not what was uploaded (damaged in storage)
                "differs_from_upload": [
                    {"evidence_id": row.evidence_id, "stored_name": n}
                    for n, entry in sorted(copied.items())
                    if not (row := by_name[n]).withdrawn
                    and row.sha256
                    and entry["sha256"] != row.sha256
                ],
                "not_copied": [n for n in _upload_entries(upload_dir) if n not in named],
                "not_copied_why": NOT_COPIED_WHY,
            },
            "files": {
                DATABASE_FILE[engine]: {"size": database_size, "sha256": database_sha},
                **{f"{FILES}/{n}": copied[n] for n in sorted(copied)},
            },
        }
        text = json.dumps(manifest, indent=1, sort_keys=False).encode() + b"\n"
        _write(stage / MANIFEST, text)
        _write(stage / MANIFEST_SUM, f"{hashlib.sha256(text).hexdigest()}  {MANIFEST}\n".encode())
        _fsync_dir(stage / FILES)
        _fsync_dir(stage)
        if dest.exists():
            dest.rmdir()  # empty, checked above
        os.rename(stage, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return manifest


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# --- reading and checking a backup --------------------------------------------------------


def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest, once its own checksum and its shape are right."""
    src = Path(src)
    if not (src / MANIFEST).is_file():
        raise BackupError(f"{src} is not a backup: it has no {MANIFEST}.")
    text = (src / MANIFEST).read_bytes()
    try:
        expected = (src / MANIFEST_SUM).read_text().split()[0]
    except (OSError, IndexError):
        raise BackupError(
            f"{src / MANIFEST_SUM} is missing or empty; nothing was restored."
        ) from None
    if hashlib.sha256(text).hexdigest() != expected:
        raise BackupError(
            f"{MANIFEST} does not match its checksum in {MANIFEST_SUM}: the backup is "
            "damaged; nothing was restored."
        )
    try:
        manifest = json.loads(text)
        if manifest.get("format") != FORMAT or manifest.get("app") != "improve":
            raise ValueError(f"format {manifest.get('format')!r} of {manifest.get('app')!r}")
        engine = manifest["database"]["engine"]
        files = manifest["files"]
        migrations = manifest["database"]["migrations"]
        if engine not in DATABASE_FILE:
            raise ValueError(f"engine {engine!r}")
        for entry in files.values():
            int(entry["size"]), str(entry["sha256"])
        for m in migrations:
            str(m["app"]), str(m["name"])
        for count in manifest["database"]["tables"].values():
            int(count)
        for m in manifest["evidence"]["missing_from_storage"]:
            str(m["stored_name"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{MANIFEST} is not one this version reads ({exc}).") from None
    bad = [
        name
        for name in files
        if name != DATABASE_FILE[engine]
        and not (name.startswith(f"{FILES}/") and _SAFE_NAME.fullmatch(name[len(FILES) + 1 :]))
    ]
    bad += [
        f"migration {m!r}"
        for m in migrations
        if not (_MIGRATION_PART.fullmatch(m["app"]) and _MIGRATION_PART.fullmatch(m["name"]))
    ]
    if DATABASE_FILE[engine] not in files:
        bad.append(f"{DATABASE_FILE[engine]} is not listed")
    if bad:
        raise BackupError(f"{MANIFEST} lists names this version will not write:", bad)
    return manifest


def _check_files(src: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    for name, entry in manifest["files"].items():
        path = src / name
        if not path.is_file():
            problems.append(f"{name}: missing from the backup")
            continue
        size, digest = _sha256(path)
        if size != entry["size"]:
            problems.append(f"{name}: {size} bytes, the manifest says {entry['size']}")
        elif digest != entry["sha256"]:
            problems.append(f"{name}: its SHA-256 differs from the manifest (damaged)")
    return problems


def check_backup(src: Path) -> dict[str, Any]:
    """Check a backup without restoring it: the manifest and every file's checksum."""
    src = Path(src)
    manifest = read_manifest(src)
    problems = _check_files(src, manifest)
    if problems:
        raise BackupError(f"The backup in {src} is damaged:", problems)
    return {"files": manifest["evidence"]["files"], "manifest": manifest}


def known_migrations() -> set[tuple[str, str]]:
    """(app, migration id) of every migration this version of the code has. The apps are
    found by their piccolo_app modules (improve.piccolo_conf registers each one), not by
    importing piccolo_conf: that builds the engine, which makes the SQLite file's folder,
    and a refused restore writes nothing."""
    from improve.paths import PACKAGE_DIR

    known = set()
    for module in sorted(PACKAGE_DIR.glob("*/piccolo_app.py")):
        config = importlib.import_module(f"improve.{module.parent.name}.piccolo_app").APP_CONFIG
        for path in Path(config.migrations_folder_path).glob("*.py"):
            match = re.search(r'^ID = "([^"]+)"', path.read_text(), re.M)
            if match:
                known.add((config.app_name, match.group(1)))
    return known


def _check_migrations_known(manifest: dict[str, Any]) -> None:
    known = known_migrations()
    unknown = [
        f"{m['app']} {m['name']}"
        for m in manifest["database"]["migrations"]
        if (m["app"], m["name"]) not in known
    ]
    if unknown:
        raise BackupError(
            f"This backup was made by improve {manifest['app_version']}, with migrations this "
            f"version ({__version__}) does not have; install the version that made it, "
            "restore, then upgrade. Nothing was restored. Unknown migrations:",
            unknown,
        )


def _compare(manifest: dict[str, Any], snapshot: Snapshot, files: set[str]) -> list[str]:
    """How a restored database differs from the manifest ([] when it does not): its
    migrations, its tables' row counts, and evidence rows whose file is not in ``files``."""
    problems = []
    expected = manifest["database"]["migrations"]
    if snapshot.migrations != expected:
        have = {(m["app"], m["name"]) for m in snapshot.migrations}
        want = {(m["app"], m["name"]) for m in expected}
        problems += [
            f"migration {a} {n}: in the manifest, not the database" for a, n in sorted(want - have)
        ]
        problems += [
            f"migration {a} {n}: in the database, not the manifest" for a, n in sorted(have - want)
        ]
    for table, count in manifest["database"]["tables"].items():
        found = snapshot.tables.get(table)
        if found != count:
            problems.append(f"table {table}: {found} rows, the manifest says {count}")
    excused = {m["stored_name"] for m in manifest["evidence"]["missing_from_storage"]}
    problems += [
        f"evidence {row.evidence_id}: its file {row.stored_name} is not restored"
        for row in snapshot.evidence
        if not row.withdrawn and row.stored_name not in files and row.stored_name not in excused
    ]
    return problems


# --- restore ------------------------------------------------------------------------------


async def _database_contents(engine: str, database_url: str) -> list[str]:
    """The tables already in the target database ([] when it is empty)."""
    if engine == "sqlite":
        path = _sqlite_path(database_url)
        leftovers = [
            str(p)
            for p in (Path(f"{path}-wal"), Path(f"{path}-journal"))
            if p.exists() and p.stat().st_size
        ]
        if not path.exists():
            return [f"{p} (left over from another database: remove it)" for p in leftovers]

        def tables() -> list[str]:
            conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                # its tables first; any index or trigger left alone makes it not empty too
                return [
                    r[0]
                    for r in conn.execute(
                        "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                        "ORDER BY type <> 'table', name"
                    )
                ]
            except sqlite3.DatabaseError:
                return [f"{path} is not an SQLite database"]
            finally:
                conn.close()

        return await asyncio.to_thread(tables)
    conn = await _connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT schemaname || '.' || tablename AS t FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        )
        return [r["t"] for r in rows]
    finally:
        await conn.close()


async def _refuse_unless_empty(engine: str, database_url: str, upload_dir: Path) -> None:
    tables = await _database_contents(engine, database_url)
    if tables:
        where = shown_database(database_url)
        shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        raise BackupError(
            f"The database {where} already has data ({shown}): restore only into an empty "
            "installation. Point IMPROVE_DATABASE_URL at a new SQLite file or a new "
            "PostgreSQL database (createdb), and IMPROVE_UPLOAD_DIR at an empty folder. "
            "Nothing was restored."
        )
    present = await asyncio.to_thread(_files_under, upload_dir)
    if present:
        raise BackupError(
            f"The upload folder {upload_dir} has files in it ({len(present)}, e.g. "
            f"{present[0].name}): restore only into an empty installation. Point "
            "IMPROVE_UPLOAD_DIR at an empty folder. Nothing was restored."
        )


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def _restore_files(
    src: Path, manifest: dict[str, Any], upload_dir: Path, written: list[Path]
) -> None:
    upload_dir.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest["files"].items():
        if not name.startswith(f"{FILES}/"):
            continue
        stored = name[len(FILES) + 1 :]
        partial = upload_dir / f".restoring-{stored}"
        written.append(partial)
        size, digest = _copy(src / name, partial, mode=0o644)
        if (size, digest) != (entry["size"], entry["sha256"]):  # changed since it was checked
            raise BackupError(f"{name} changed while it was restored; nothing was restored.")
        final = upload_dir / stored
        os.rename(partial, final)
        written.append(final)
    _fsync_dir(upload_dir)


def _restore_sqlite(src: Path, manifest: dict[str, Any], target: Path, files: set[str]) -> None:
    """Into a new file beside the target, checked, then renamed into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    entry = manifest["files"][DATABASE_FILE["sqlite"]]
    staged = target.with_name(f".{target.name}.restoring-{secrets.token_hex(4)}")
    try:
        if _copy(src / DATABASE_FILE["sqlite"], staged) != (entry["size"], entry["sha256"]):
            raise BackupError(f"{DATABASE_FILE['sqlite']} changed while it was restored.")
        conn = sqlite3.connect(staged)
        try:
            check = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise BackupError("The database copy fails SQLite's integrity check:", [check])
            problems = _compare(manifest, _read_sqlite(conn), files)
            if problems:
                raise BackupError(
                    "The restored database does not match the manifest; nothing was restored:",
                    problems,
                )
            _new_epoch_sqlite(conn)
        finally:
            conn.close()
        if target.exists():  # empty (checked before): it must still be
            conn = sqlite3.connect(target)
            try:
                if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                    raise BackupError(f"{target} was written to during the restore; stopped.")
                conn.execute("PRAGMA journal_mode=DELETE")  # no -wal left for the new file
            finally:
                conn.close()
            for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
                leftover.unlink(missing_ok=True)
        os.replace(staged, target)
        os.chmod(target, 0o600)
        _fsync_dir(target.parent)
    finally:
        staged.unlink(missing_ok=True)


def _new_epoch_sqlite(conn: sqlite3.Connection) -> None:
    """A restored database is a new state of the data: app instances that kept views of
    another copy under the same data stamp must not serve them (improve/snapshots.py)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'data_stamp'").fetchone():
        conn.execute("UPDATE data_stamp SET epoch = lower(hex(randomblob(8))) WHERE id = 1")
        conn.commit()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _postgres_checks(manifest: dict[str, Any], files: set[str]) -> str:
    """SQL run after the dump inside psql's single transaction: any difference from the
    manifest raises, and the whole restore is rolled back."""
    schema = _quote(manifest["database"].get("schema") or "public")
    expected = [
        ("migration", f"{m['app']} {m['name']}", 0) for m in manifest["database"]["migrations"]
    ]
    expected += [("rows", t, n) for t, n in manifest["database"]["tables"].items()]
    expected += [("file", name, 0) for name in files]
    expected += [
        ("file", m["stored_name"], 0) for m in manifest["evidence"]["missing_from_storage"]
    ]
    values = ",\n".join(f"({_literal(k)}, {_literal(key)}, {n})" for k, key, n in expected)
    return _PG_CHECKS.format(
        values=values,
        schema=schema,
        stamp=_literal(schema + ".data_stamp"),
        new_epoch=_literal(_NEW_EPOCH_PG.format(schema=schema)),
    )


# Every {value} is a _literal; {schema} is a _quote'd name read from the backup's own
# database.
_PG_CHECKS = """CREATE TEMP TABLE improve_expected (kind text, key text, n bigint) ON COMMIT DROP;
INSERT INTO pg_temp.improve_expected VALUES
{values};
DO $check$
DECLARE problems text;
BEGIN
    SELECT string_agg(problem, '; ') INTO problems FROM (
        SELECT 'migration ' || coalesce(e.key, m.key) ||
               CASE WHEN m.key IS NULL THEN ' is in the manifest, not the database'
                    ELSE ' is in the database, not the manifest' END AS problem
        FROM (SELECT key FROM pg_temp.improve_expected WHERE kind = 'migration') e
        FULL JOIN (SELECT app_name || ' ' || name AS key FROM {schema}.migration) m
          ON m.key = e.key
        WHERE e.key IS NULL OR m.key IS NULL
        UNION ALL
        SELECT format('table %s: %s rows, the manifest says %s', key, row_count, n)
        FROM (SELECT key, n, (xpath('/row/c/text()', query_to_xml(
                  format('SELECT count(*) AS c FROM {schema}.%I', key), false, true, ''
              )))[1]::text::bigint AS row_count
              FROM pg_temp.improve_expected WHERE kind = 'rows') counted
        WHERE row_count <> n
        UNION ALL
        SELECT format('evidence %s: its file %s is not restored', v.id, v.stored_name)
        FROM {schema}.evidence v
        WHERE v.stored_name <> '' AND v.withdrawn_at IS NULL AND v.stored_name NOT IN (
            SELECT key FROM pg_temp.improve_expected WHERE kind = 'file')
    ) found_problems;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'improve restore: the restored database does not match the manifest: %',
            problems;
    END IF;
END
$check$;
DO $epoch$
BEGIN
    IF to_regclass({stamp}) IS NOT NULL THEN
        EXECUTE {new_epoch};
    END IF;
END
$epoch$;
"""

# see _new_epoch_sqlite
_NEW_EPOCH_PG = (
    "UPDATE {schema}.data_stamp SET epoch = md5(random()::text || clock_timestamp()::text) "
    "WHERE id = 1"
)


async def _restore_postgres(
    src: Path, manifest: dict[str, Any], database_url: str, files: set[str]
) -> None:
    psql = _pg_tool("psql")
    conn = await _connect(database_url)
    try:
        server = await _server_major(conn)
    finally:
        await conn.close()
    made_on = int(re.match(r"\d+", manifest["database"]["server_version"]).group())
    if server < made_on:
        raise BackupError(
            f"This backup was made from PostgreSQL {made_on}; this server is {server}. "
            f"Restore into PostgreSQL {made_on} or newer. Nothing was restored."
        )
    url, env = _libpq(database_url)
    with tempfile.TemporaryDirectory(prefix="improve-restore-") as work:
        checks = Path(work) / "checks.sql"
        checks.write_text(_postgres_checks(manifest, files))
        try:
            await _run(
                psql,
                "--no-psqlrc",
                "--quiet",
                "--set=ON_ERROR_STOP=1",
                "--single-transaction",
                f"--file={src / DATABASE_FILE['postgresql']}",
                f"--file={checks}",
                f"--dbname={url}",
                env={**env, "PGOPTIONS": "--client-min-messages=warning"},
            )
        except BackupError as exc:
            raise BackupError(
                "The database could not be restored; it was rolled back and nothing was "
                "restored. psql said:",
                exc.problems,
            ) from None


async def _installed(engine: str, database_url: str) -> Snapshot:
    """The restored database as the app will see it."""
    if engine == "sqlite":

        def read() -> Snapshot:
            path = _sqlite_path(database_url)
            conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                return _read_sqlite(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(read)
    conn = await _connect(database_url)
    try:
        return await _read_postgres(conn)
    finally:
        await conn.close()


async def restore(src: Path, *, database_url: str, upload_dir: Path) -> dict[str, Any]:
    """Restore the backup in ``src`` into an empty installation (database and upload
    folder), checking everything first; returns what was restored and checked."""
    src = Path(src)
    upload_dir = Path(upload_dir)
    manifest = read_manifest(src)
    engine = _engine_of(database_url)
    made_from = manifest["database"]["engine"]
    if engine != made_from:
        names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        raise BackupError(
            f"This backup is of a {names[made_from]} database, and IMPROVE_DATABASE_URL "
            f"points at {names[engine]}: restore it into {names[made_from]}. Nothing was "
            "restored."
        )
    _check_migrations_known(manifest)
    await _refuse_unless_empty(engine, database_url, upload_dir)
    problems = await asyncio.to_thread(_check_files, src, manifest)
    if problems:
        raise BackupError(
            f"The backup in {src} is damaged; nothing was restored. These files do not match "
            "its manifest:",
            problems,
        )
    files = {n[len(FILES) + 1 :] for n in manifest["files"] if n.startswith(f"{FILES}/")}
    written: list[Path] = []
    try:
        await asyncio.to_thread(_restore_files, src, manifest, upload_dir, written)
        if engine == "sqlite":
            await asyncio.to_thread(
                _restore_sqlite, src, manifest, _sqlite_path(database_url), files
            )
        else:
            await _restore_postgres(src, manifest, database_url, files)
    except BaseException:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        raise
    # the installation as the app will see it: the same checks, from the outside
    present = {p.name for p in upload_dir.iterdir() if p.is_file()}
    problems = _compare(manifest, await _installed(engine, database_url), present)
    problems += [
        f"{FILES}/{name}: restored with {(upload_dir / name).stat().st_size} bytes"
        for name in sorted(files)
        if (upload_dir / name).stat().st_size != manifest["files"][f"{FILES}/{name}"]["size"]
    ]
    if problems:
        raise BackupError("The restored installation fails its checks:", problems)
    newer = sorted(
        known_migrations() - {(m["app"], m["name"]) for m in manifest["database"]["migrations"]}
    )
    return {
        "files": len(files),
        "bytes": sum(manifest["files"][f"{FILES}/{n}"]["size"] for n in files),
        "migrations": len(manifest["database"]["migrations"]),
        "tables": len(manifest["database"]["tables"]),
        "rows": sum(manifest["database"]["tables"].values()),
        "missing_from_storage": manifest["evidence"]["missing_from_storage"],
        "migrations_to_apply": [f"{a} {n}" for a, n in newer],
        "manifest": manifest,
    }


# --- what the commands print --------------------------------------------------------------


def describe_backup(manifest: dict[str, Any], dest: Path) -> list[str]:
    from improve.words import counted, file_size

    database = manifest["database"]
    evidence = manifest["evidence"]
    engine = "SQLite" if database["engine"] == "sqlite" else "PostgreSQL"
    size = manifest["files"][database["file"]]["size"]
    lines = [
        f"Backed up to {dest}: the {engine} database ({file_size(size)}, "
        f"{counted(len(database['migrations']), 'migration')} applied, "
        f"{counted(sum(database['tables'].values()), 'row')}) and "
        f"{counted(evidence['files'], 'evidence file')} ({file_size(evidence['bytes'])}).",
        f"Check it any time with: improve restore --check-only {dest}",
    ]
    if evidence["not_copied"]:
        lines.append(
            f"Not copied: {counted(len(evidence['not_copied']), 'file')} in the upload folder "
            "that no evidence in the database copy names (uploaded after the copy was taken, "
            "or withdrawn); listed in manifest.json."
        )
    return lines


def describe_warnings(manifest: dict[str, Any]) -> list[str]:
    """Evidence files storage had lost or damaged before the backup: it holds them as they
    were found (or not at all), and someone should look."""
    from improve.words import counted

    lines = []
    for key, what in (
        ("missing_from_storage", "missing from the upload folder"),
        ("differs_from_upload", "not what was uploaded (their SHA-256 differs)"),
    ):
        found = manifest["evidence"][key]
        if found:
            lines.append(
                f"Warning: {counted(len(found), 'evidence file')} named by the database "
                f"{'was' if len(found) == 1 else 'were'} {what} before the backup (listed in "
                f"manifest.json under {key}):"
            )
            lines += [f"  evidence {m['evidence_id']}: {m['stored_name']}" for m in found[:20]]
    return lines


def describe_restore(report: dict[str, Any], database: str, upload_dir: Path) -> list[str]:
    from improve.words import counted, file_size

    manifest = report["manifest"]
    lines = [
        f"Restored the backup of {manifest['created_at']} (improve {manifest['app_version']}) "
        f"into {database} and {upload_dir}.",
        f"Checked: every file against its SHA-256; {counted(report['migrations'], 'migration')} "
        f"and {counted(report['rows'], 'row')} in {counted(report['tables'], 'table')} as the "
        f"manifest says; {counted(report['files'], 'evidence file')} "
        f"({file_size(report['bytes'])}), one for every evidence row that names a file.",
    ]
    if report["missing_from_storage"]:
        lines.append(
            f"{counted(len(report['missing_from_storage']), 'evidence row')} had lost its file "
            "before the backup was taken; their files cannot be restored."
        )
    if report["migrations_to_apply"]:
        lines.append(
            f"This version has {counted(len(report['migrations_to_apply']), 'newer migration')}: "
            "run `improve migrate` before starting the service."
        )
    else:
        lines.append(
            "Run `improve migrate` (nothing to apply; it refreshes what the app derives from "
            "the data), then start the service."
        )
    return lines
