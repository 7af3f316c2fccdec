"""history by the thing it is about: an action's page shows that action's own history,
a few rows among the thousands of events its case gathers."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index audit_event (entity, entity_id)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS audit_event_entity ON audit_event (entity, entity_id)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS audit_event_entity")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
