"""history by service, entity and action: the quality view reads each home's stage
changes, which are a few rows among the thousands of events a service gathers."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T23:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index audit_event (service, entity, action)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS audit_event_service_kind "
            "ON audit_event (service, entity, action)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS audit_event_service_kind")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
