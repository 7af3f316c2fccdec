"""One rating per service, publication date and service type (was: per service and date),
so that a location's own rating and each service type's, published the same day, are all
kept. Its own file: raw statements run before a migration's columns are added."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T16:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rating unique per service, date and service type"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="services", description=DESCRIPTION)

    async def run():
        await RawTable.raw("DROP INDEX IF EXISTS rating_service_published_uq")
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS rating_service_published_type_uq "
            "ON rating (service, published_on, service_type)"
        )

    async def back():
        # fails while a service has two ratings of one date: they must be removed first
        await RawTable.raw("DROP INDEX IF EXISTS rating_service_published_type_uq")
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS rating_service_published_uq "
            "ON rating (service, published_on)"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
