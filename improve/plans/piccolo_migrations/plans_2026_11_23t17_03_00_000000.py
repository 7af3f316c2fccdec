"""One row per organisation, playbook and version (a raw unique index, both engines)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T17:03:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique organisation playbook version"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS org_playbook_version_uq "
            "ON org_playbook (organisation, playbook_id, version)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS org_playbook_version_uq")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
