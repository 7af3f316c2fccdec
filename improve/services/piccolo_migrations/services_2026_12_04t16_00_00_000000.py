"""What CQC's location records say beyond ratings, and ratings per service type.

service: since when CQC lists no registered manager (registeredManagerAbsentDate), and the
visit of an inspection whose report is not yet published (unpublishedReports).
rating: the service type a rating is of ("" for the location's own), and when CQC assessed
(a Single Assessment Framework assessment's assessmentDate).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Date, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "CQC record: manager absent, unpublished report, rating service type"


def _params(**kw):
    return {
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **kw,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="services", description=DESCRIPTION)
    for table_class, table, column in (
        ("Service", "service", "cqc_manager_absent_since"),
        ("Service", "service", "cqc_unpublished_visit_on"),
        ("Rating", "rating", "assessed_on"),
    ):
        manager.add_column(
            table_class_name=table_class,
            tablename=table,
            column_name=column,
            db_column_name=column,
            column_class_name="Date",
            column_class=Date,
            params=_params(default=None, null=True),
            schema=None,
        )
    manager.add_column(
        table_class_name="Rating",
        tablename="rating",
        column_name="service_type",
        db_column_name="service_type",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_params(length=120, default="", null=False),
        schema=None,
    )
    return manager
