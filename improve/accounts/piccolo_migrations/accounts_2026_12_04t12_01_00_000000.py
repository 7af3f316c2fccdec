"""One organisation per CQC provider id.

A raw index: SQLite cannot add a UNIQUE column by ALTER. Its own migration, after the
column's: a migration's raw statements run before its column changes. Nothing is filled
in: the CQC provider ids on services may have been written by anyone's import (that is
how organisations' services were captured), so an administrator binds each provider,
on its Admin page or by importing under it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-04T12:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique CQC provider id per organisation"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="accounts", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE UNIQUE INDEX IF NOT EXISTS organisation_cqc_provider_id_uq "
            "ON organisation (cqc_provider_id)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS organisation_cqc_provider_id_uq")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
