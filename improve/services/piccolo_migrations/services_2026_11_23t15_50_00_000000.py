"""A service is linked to a commissioner at most once.

A raw unique index, not piccolo.constraints.Unique: SQLite rejects the
ALTER TABLE ... ADD CONSTRAINT that Piccolo emits for composite constraints.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T15:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique service/commissioner link"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="services", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS commissioning_service_commissioner_uq "
            "ON commissioning (service, commissioner)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS commissioning_service_commissioner_uq")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
