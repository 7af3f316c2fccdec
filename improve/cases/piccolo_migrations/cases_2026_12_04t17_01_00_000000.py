"""Cases already in special measures entered them with their opening rating (the only
way the code set the flag before 2026-12-04, bar a fall back while sustaining, for which
the opening publication is the nearest date kept)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T17:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "backfill special_measures_since from the opening publication"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "UPDATE improvement_case SET special_measures_since = published_on "
            "WHERE special_measures AND special_measures_since IS NULL"
        )

    async def back():
        pass  # the column goes with the migration before this one

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
