from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Text, Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-02T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "evidence can be withdrawn: who, when and why"

_PLAIN = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="evidence", description=DESCRIPTION)
    for name, column_class, params in (
        ("withdrawn_at", Timestamptz, {**_PLAIN, "default": None, "null": True}),
        ("withdrawn_by_name", Varchar, {**_PLAIN, "length": 200, "default": ""}),
        ("withdrawn_reason", Text, {**_PLAIN, "default": ""}),
    ):
        manager.add_column(
            table_class_name="Evidence",
            tablename="evidence",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )
    return manager
