"""The index of actions' progress gains first_due_on, so the portfolio counts actions moved
later than first agreed from the index alone, as it counts the rest."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-12-02T08:32:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index plan_action (plan, status, theme, due_on, done_on, first_due_on)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    async def run():
        await RawTable.raw("DROP INDEX IF EXISTS plan_action_progress")
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS plan_action_progress "
            "ON plan_action (plan, status, theme, due_on, done_on, first_due_on)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS plan_action_progress")
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS plan_action_progress "
            "ON plan_action (plan, status, theme, due_on, done_on)"
        )

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
