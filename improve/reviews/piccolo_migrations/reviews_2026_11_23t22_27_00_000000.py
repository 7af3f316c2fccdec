"""Fill each case's review summary (last review, its RAG, first green review) from the
reviews held before the columns existed. Plain SQL that both engines run; a frozen copy
of improve.reviews.domain.SUMMARY_SQL as it was when this migration was written."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.table import Table

ID = "2026-11-23T22:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fill the cases' review summaries"

SQL = """
UPDATE improvement_case SET
  last_review_on = (
    SELECT r.held_on FROM progress_review r WHERE r."case" = improvement_case.id
    ORDER BY r.held_on DESC, r.id DESC LIMIT 1),
  last_review_rag = COALESCE((
    SELECT r.overall_rag FROM progress_review r WHERE r."case" = improvement_case.id
    ORDER BY r.held_on DESC, r.id DESC LIMIT 1), ''),
  first_green_review_on = (
    SELECT MIN(r.held_on) FROM progress_review r
    WHERE r."case" = improvement_case.id AND r.overall_rag = 'green')
"""


class RawTable(Table):
    pass


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="reviews", description=DESCRIPTION)

    async def run():
        await RawTable.raw(SQL)

    manager.add_raw(run)
    return manager
