"""unread notifications by person: every page's session lookup counts them for the menu,
so the count reads a small partial index, never the person's read history."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T05:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial index notification (user) where read_at is null"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reminders", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            'CREATE INDEX IF NOT EXISTS notification_unread ON notification ("user") '
            "WHERE read_at IS NULL"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS notification_unread")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
