"""The `improve` command: serve, migrate, user create, backup, restore, demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from improve import settings as settings_module
from improve.settings import SettingsError


def _serve(host: str, port: int, workers: int, app: object | None = None) -> None:
    import uvicorn

    if app is not None:  # demo: one process with settings already chosen
        uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="info")
        return
    # Each worker builds its own app from the environment (and its own DB pool).
    uvicorn.run(
        "improve.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


def _with_database(work):
    """Run ``work()`` (a coroutine function) with the database ready, as the app would."""
    from improve import db

    async def run():
        await db.prepare(1)
        try:
            return await work()
        finally:
            await db.release()

    return asyncio.run(run())


def _log_to_stderr(level: str) -> None:
    """The worker's log (each job run's summary, failures) on stderr, as the web app's."""
    import logging

    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )


def _refused(errors: dict[str, str], closing: str = "") -> int:
    """Say what is wrong, one line per field, on stderr; the exit status for refusals."""
    for where, message in errors.items():
        print(f"{where}: {message}", file=sys.stderr)
    if closing:
        print(closing, file=sys.stderr)
    return 2


def cmd_serve(args: argparse.Namespace) -> int:
    _serve(args.host, args.port, args.workers)
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    from improve import db
    from improve.measures import summaries

    async def run():
        await db.migrate()
        # derived data the new code expects: summaries missing after an upgrade, or
        # kept with run-chart thresholds that have since changed
        await db.prepare(1)
        try:
            return await summaries.refresh_stale()
        finally:
            await db.release()

    refreshed = asyncio.run(run())
    from improve.words import counted

    print(f"Migrations applied; measure summaries refreshed for {counted(refreshed, 'service')}.")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from improve.accounts import people
    from improve.errors import Invalid

    password = settings_module.cli_password()
    if not password:
        if not sys.stdin.isatty():
            print(
                "Set IMPROVE_USER_PASSWORD (or IMPROVE_USER_PASSWORD_FILE) when not "
                "running interactively.",
                file=sys.stderr,
            )
            return 2
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password again: "):
            print("The passwords do not match.", file=sys.stderr)
            return 2

    async def create() -> dict:
        org = await people.organisation_by_ref(args.org)
        return await people.create_user(
            email=args.email,
            name=args.name or args.email,
            organisation_id=org["id"],
            role=args.role,
            password=password,
        )

    try:
        user = _with_database(create)
    except Invalid as exc:
        return _refused(exc.errors)
    print(f"Created {user['email']} ({user['role']}) in {user['organisation_name']}.")
    return 0


def cmd_org_create(args: argparse.Namespace) -> int:
    from improve.accounts import people
    from improve.errors import Invalid

    async def create() -> dict:
        return await people.create_organisation(args.name, args.kind, args.slug)

    try:
        org = _with_database(create)
    except Invalid as exc:
        return _refused(exc.errors)
    print(f"Created {org['kind']} organisation {org['name']} (short name {org['slug']}).")
    return 0


def cmd_import_cqc(args: argparse.Namespace) -> int:
    """Location records (JSON: one or a list per file) or, with --directory, care
    directory CSVs. Every file is checked before anything is written."""
    from pathlib import Path

    from improve.access import Viewer
    from improve.accounts import people
    from improve.accounts.tables import OrgKind, Role
    from improve.errors import Invalid
    from improve.services import cqc, importer
    from improve.web.bodies import load_json

    try:
        locations = []
        for name in args.files:
            text = Path(name).read_text(encoding="utf-8-sig")
            if args.directory:
                locations += [row.location for row in cqc.parse_directory(text)]
            else:
                try:
                    data = load_json(text)
                except ValueError as exc:  # not JSON, or nested too deeply
                    raise Invalid({name: f"is not JSON ({exc})"}) from None
                try:
                    locations += cqc.parse_locations(data)
                except Invalid as exc:  # the paths in the record, in the file named
                    raise Invalid({f"{name} {k}": v for k, v in exc.errors.items()}) from None
    except (OSError, Invalid) as exc:
        return _refused(getattr(exc, "errors", {"file": str(exc)}), "Nothing was imported.")
    # the command line acts as the installation's operator
    operator = Viewer(0, "", "improve import-cqc", Role.ADMIN, 0, "", OrgKind.OPERATOR)

    async def run():
        provider_id = None
        if args.provider:
            provider_id = (await people.organisation_by_ref(args.provider))["id"]
        # as the administrator: it may create, move and bind (improve/services/importer.py)
        return await importer.import_locations(
            operator,
            locations,
            provider_id=provider_id,
            create_providers=args.directory,
            provider_field="--provider",
        )

    try:
        report = _with_database(run)
    except Invalid as exc:
        return _refused(exc.errors, "Nothing was imported.")
    from improve.words import counted

    print(f"Imported {counted(len(locations), 'location')}: {report.summary()}.")
    for note in report.notes:
        print(f"  {note}")
    return 0


def cmd_jobs_run(_: argparse.Namespace) -> int:
    """A worker that runs the scheduled jobs until SIGTERM or Ctrl+C."""
    import signal

    from improve import db
    from jobs import build_scheduler
    from jobs import stop as stop_jobs

    settings = settings_module.get_settings()  # checked by main() before any command
    _log_to_stderr(settings.log_level)

    async def run() -> None:
        await db.prepare(settings.db_pool_size)
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        scheduler = build_scheduler()
        scheduler.start()
        print("improve jobs: running; SIGTERM stops cleanly.", flush=True)
        try:
            await stopping.wait()
            print("improve jobs: stopping; finishing what is in flight.", flush=True)
        finally:
            await stop_jobs(scheduler)
            await db.release()
            print("improve jobs: stopped.", flush=True)

    asyncio.run(run())
    return 0


def cmd_jobs_run_once(args: argparse.Namespace) -> int:
    import datetime as dt

    from jobs import registry, run_once

    if args.name not in registry():
        return _refused({"name": f"no job {args.name!r}; jobs: {', '.join(registry())}"})
    now = None
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now)
        except ValueError:
            return _refused({"--now": "must be a date and time, e.g. 2026-12-01T08:00"})
        if now.tzinfo is None:
            now = now.replace(tzinfo=settings_module.get_settings().tz)
    result = _with_database(lambda: run_once(args.name, now))
    print(f"{args.name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """A consistent copy of the database and the evidence files, while the service runs."""
    from pathlib import Path

    from improve import backup

    settings = settings_module.get_settings().check()
    dest = Path(args.dest)
    try:
        manifest = asyncio.run(
            backup.backup(
                dest, database_url=settings.database_url, upload_dir=Path(settings.upload_dir)
            )
        )
    except backup.BackupError as exc:
        print(f"improve backup: {exc}", file=sys.stderr)
        return 2
    print("\n".join(backup.describe_backup(manifest, dest)))
    warnings = backup.describe_warnings(manifest)
    if warnings:  # the backup is written, but a cron job must hear of lost or damaged files
        print("\n".join(warnings), file=sys.stderr)
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """A backup into an empty installation (IMPROVE_DATABASE_URL, IMPROVE_UPLOAD_DIR),
    or with --check-only its checksums, writing nothing."""
    from pathlib import Path

    from improve import backup

    src = Path(args.src)
    try:
        if args.check_only:
            checked = backup.check_backup(src)
            made = checked["manifest"]
            print(
                f"{src}: the backup of {made['created_at']} (improve {made['app_version']}, "
                f"{made['database']['engine']}) is whole: every file matches its manifest."
            )
            return 0
        settings = settings_module.get_settings().check()
        report = asyncio.run(
            backup.restore(
                src, database_url=settings.database_url, upload_dir=Path(settings.upload_dir)
            )
        )
    except backup.BackupError as exc:
        print(f"improve restore: {exc}", file=sys.stderr)
        return 2
    where = backup.shown_database(settings.database_url)
    print("\n".join(backup.describe_restore(report, where, Path(settings.upload_dir))))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from improve import demo

    settings = demo.demo_settings(args.port)
    settings_module.use(settings)
    logins = asyncio.run(demo.prepare())
    print(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD})")
    for role, email in logins:
        print(f"  {role:<22} {email}")
    url = f"http://{args.host}:{args.port}/"
    print(f"\nThe demo is at {url}  (database: {settings.sqlite_path}; Ctrl+C stops it)\n")
    if args.no_serve:
        return 0
    from improve.app import create_app

    _serve(args.host, args.port, 1, app=create_app(settings))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="improve", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the web app and API with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    migrate = sub.add_parser("migrate", help="apply database migrations (once, before serving)")
    migrate.set_defaults(func=cmd_migrate)

    user = sub.add_parser("user", help="manage users")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    create = user_sub.add_parser(
        "create", help="create a user (asks for the password, or reads IMPROVE_USER_PASSWORD)"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--org", required=True, help="organisation short name, name or id")
    create.add_argument(
        "--role",
        required=True,
        choices=["admin", "quality_lead", "registered_manager", "commissioner"],
    )
    create.add_argument("--name", default="", help="full name (defaults to the email)")
    create.set_defaults(func=cmd_user_create)

    imp = sub.add_parser(
        "import-cqc",
        help="import CQC location records (JSON) or, with --directory, the CQC care directory CSV",
    )
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument(
        "--provider",
        default="",
        help="provider organisation the records are filed under (short name, name or id): "
        "a location another organisation holds is moved to it, and it is bound to the "
        "records' CQC provider id when neither is bound yet",
    )
    imp.add_argument(
        "--directory",
        action="store_true",
        help="the files are CQC care directory CSVs (providers created as needed)",
    )
    imp.set_defaults(func=cmd_import_cqc)

    jobs = sub.add_parser("jobs", help="scheduled jobs (reminders, email delivery)")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_run = jobs_sub.add_parser("run", help="run the scheduler as a separate worker")
    jobs_run.set_defaults(func=cmd_jobs_run)
    once = jobs_sub.add_parser("run-once", help="run one job now (for cron, or to try a date)")
    once.add_argument("name", help="reminders or deliver")
    once.add_argument("--now", default="", help="pretend it is this time (ISO, local time)")
    once.set_defaults(func=cmd_jobs_run_once)

    org = sub.add_parser("org", help="manage organisations")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    org_create = org_sub.add_parser("create", help="create an organisation")
    org_create.add_argument("--name", required=True)
    org_create.add_argument(
        "--kind", required=True, choices=["operator", "provider", "commissioner"]
    )
    org_create.add_argument("--slug", default="", help="short name (made from the name)")
    org_create.set_defaults(func=cmd_org_create)

    bk = sub.add_parser(
        "backup",
        help="copy the database and the evidence files, with a manifest of checksums, into "
        "a new folder (safe while the service runs)",
    )
    bk.add_argument("dest", metavar="DEST", help="a new folder, e.g. /backups/improve-2026-12-04")
    bk.set_defaults(func=cmd_backup)

    rs = sub.add_parser(
        "restore",
        help="restore a backup into an EMPTY installation (IMPROVE_DATABASE_URL and "
        "IMPROVE_UPLOAD_DIR), after checking every file's checksum",
    )
    rs.add_argument("src", metavar="SRC", help="a folder made by improve backup")
    rs.add_argument(
        "--check-only",
        action="store_true",
        help="check the backup's checksums and stop; writes nothing",
    )
    # --check-only reads only the backup; a restore checks the settings itself
    rs.set_defaults(func=cmd_restore, own_settings=True)

    demo = sub.add_parser("demo", help="create a demo database with sample data and serve it")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="prepare the data and stop")
    # the demo makes its own settings (a throwaway key, its own database)
    demo.set_defaults(func=cmd_demo, own_settings=True)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if not getattr(args, "own_settings", False):
            # Every other command needs the secret key or the database (or both): a bad
            # configuration stops each of them here, in one line, before anything is
            # read, written or sent (cron's `jobs run-once` signed unsubscribe links
            # with an empty key when only `serve` and `jobs run` checked).
            settings_module.get_settings().check()
        return args.func(args)
    except SettingsError as exc:
        print(f"improve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
