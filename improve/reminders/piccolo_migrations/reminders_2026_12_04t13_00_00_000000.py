"""outbox.claim_token: each claim's own token, so only the sender holding a claim renews
it, marks the email sent or gives it back (a claim released as stale and taken by
another sender is no longer the first sender's)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T13:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "outbox.claim_token"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reminders", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Outbox",
        tablename="outbox",
        column_name="claim_token",
        db_column_name="claim_token",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 32,
            "default": "",
            "null": False,
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
