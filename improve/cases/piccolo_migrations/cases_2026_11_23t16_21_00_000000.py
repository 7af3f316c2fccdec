"""One open case per service; the audit log is append-only; history is read by case.

- a partial unique index (both engines support WHERE on an index);
- triggers that refuse UPDATE and DELETE on audit_event, so not even a bug in our own
  code can rewrite history;
- an index for the case's activity feed, newest first.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T16:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "open case uniqueness, append-only audit log"


class RawTable(Table):
    pass


SQLITE_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]

POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the audit log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_event_no_change BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS improvement_case_one_open_uq "
            "ON improvement_case (service) WHERE stage <> 'closed'"
        )
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS audit_event_case_at ON audit_event (\"case\", at)"
        )
        engine = RawTable._meta.db.engine_type
        for statement in SQLITE_TRIGGERS if engine == "sqlite" else POSTGRES_TRIGGERS:
            await RawTable.raw(statement)

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS improvement_case_one_open_uq")
        await RawTable.raw("DROP INDEX IF EXISTS audit_event_case_at")
        if RawTable._meta.db.engine_type == "sqlite":
            await RawTable.raw("DROP TRIGGER IF EXISTS audit_event_no_update")
            await RawTable.raw("DROP TRIGGER IF EXISTS audit_event_no_delete")
        else:
            await RawTable.raw("DROP TRIGGER IF EXISTS audit_event_no_change ON audit_event")
            await RawTable.raw("DROP FUNCTION IF EXISTS audit_event_append_only()")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
