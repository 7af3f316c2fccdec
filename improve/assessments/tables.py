from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from improve.accounts.tables import User
from improve.cases.tables import Case
from improve.services.tables import Service


class SelfAssessment(Table, tablename="self_assessment"):
    """A manager's or quality lead's scoring of the service against the quality
    statements on a date. Every assessment is kept so the projection can be followed."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    case = ForeignKey(references=Case, on_delete=OnDelete.set_null, null=True, default=None)
    assessed_on = Date()
    framework = Varchar(length=30, default="saf")
    # a breach of regulations still open caps the overall projection (ratings principles)
    breach = Boolean(default=False)
    # the projection, stored when the assessment is saved so portfolio views read one row
    projected_overall = Varchar(length=30, default="")
    results = JSON(default={})  # key question -> rating, shown percent
    assessed_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()


class StatementScore(Table, tablename="statement_score"):
    """One quality statement's score (1-4) in an assessment, with its evidence."""

    assessment = ForeignKey(
        references=SelfAssessment, on_delete=OnDelete.cascade, index=True, null=False
    )
    statement = Varchar(length=60)
    score = Integer()
    evidence = Text(default="")
