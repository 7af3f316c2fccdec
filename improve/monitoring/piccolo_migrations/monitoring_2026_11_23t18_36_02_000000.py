"""level names unique per commissioner, one status per service and commissioner (raw unique indexes work on both engines; SQLite cannot add constraints)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T18:36:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "level names unique per commissioner, one status per service and commissioner"

INDEXES = (
    ("monitoring_level_uq", "monitoring_level (commissioner, name)"),
    ("monitoring_status_uq", "monitoring_status (service, commissioner)"),
)


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="monitoring", description=DESCRIPTION)

    async def run():
        for name, target in INDEXES:
            await RawTable.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def back():
        for name, _ in INDEXES:
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
