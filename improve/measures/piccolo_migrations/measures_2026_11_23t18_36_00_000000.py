"""one measure key per organisation, one figure per service, measure and month (raw unique indexes work on both engines; SQLite cannot add constraints)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T18:36:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one measure key per organisation, one figure per service, measure and month"

INDEXES = (
    ("measure_definition_uq", "measure_definition (organisation, key)"),
    ("measure_value_uq", "measure_value (service, measure, month)"),
)


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
