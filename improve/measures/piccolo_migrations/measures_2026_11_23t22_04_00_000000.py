"""one summary per service and measure (a raw unique index works on both engines; SQLite cannot add constraints)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T22:04:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one summary per service and measure"

INDEXES = (("measure_summary_uq", "measure_summary (service, measure)"),)


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="measures", description=DESCRIPTION)

    async def run():
        for name, target in INDEXES:
            await RawTable.raw(f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {target}")

    async def back():
        for name, _ in INDEXES:
            await RawTable.raw(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
