"""An action answers a finding at most once (a raw unique index works on both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T16:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique action/finding link"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS action_finding_uq ON action_finding (action, finding)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS action_finding_uq")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
