"""Unique CQC location ids, and one rating per service and publication date.

Raw indexes: SQLite cannot add a UNIQUE column nor a composite constraint by ALTER.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T16:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique location id and rating per date"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="services", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS service_cqc_location_id_uq "
            "ON service (cqc_location_id)"
        )
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS rating_service_published_uq "
            "ON rating (service, published_on)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS service_cqc_location_id_uq")
        await RawTable.raw("DROP INDEX IF EXISTS rating_service_published_uq")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
