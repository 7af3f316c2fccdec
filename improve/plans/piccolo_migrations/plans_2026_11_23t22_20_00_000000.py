"""actions' progress by plan: the portfolio counts each plan's actions by status, theme,
due and done dates. This index holds all of those (the counts never read the table), and
leads with the plan so that SQLite, without planner statistics, no longer reads every
finished action in the database through the status index."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T22:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "index plan_action (plan, status, theme, due_on, done_on)"


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    async def run():
        await RawTable.raw(
            "CREATE INDEX IF NOT EXISTS plan_action_progress "
            "ON plan_action (plan, status, theme, due_on, done_on)"
        )

    async def back():
        await RawTable.raw("DROP INDEX IF EXISTS plan_action_progress")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
