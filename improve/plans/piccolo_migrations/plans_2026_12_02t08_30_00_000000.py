"""The due date first agreed for each action, so a plan's slipping shows: an open action
now due later than first planned has slipped. The next migration fills it for existing
actions (Piccolo runs a migration's raw SQL before its new columns)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T08:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "plan_action.first_due_on: the due date first agreed"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plans", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Action",
        tablename="plan_action",
        column_name="first_due_on",
        db_column_name="first_due_on",
        column_class_name="Date",
        column_class=Date,
        params={
            "default": None,
            "null": True,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
