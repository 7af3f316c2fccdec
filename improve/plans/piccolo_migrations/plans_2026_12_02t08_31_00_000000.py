"""Existing actions start from their current due date: their earlier moves are in the
history, not counted as slipping."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T08:31:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fill plan_action.first_due_on for existing actions"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "UPDATE plan_action SET first_due_on = due_on WHERE first_due_on IS NULL"
        )

    manager.add_raw(run)
    return manager
