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
from improve.services.tables import Rating, Service


class Case(Table, tablename="improvement_case"):
    """One improvement journey of one service. At most one open case per service
    (a raw partial unique index on service where stage is not closed)."""

    service = ForeignKey(references=Service, on_delete=OnDelete.restrict, index=True, null=False)
    opening_rating = ForeignKey(
        references=Rating, on_delete=OnDelete.set_null, null=True, default=None
    )
    stage = Varchar(length=30, default="assessing", index=True)
    special_measures = Boolean(default=False)
    # the publication of the rating that put the service in special measures (which may
    # be a re-inspection after the case opened); None while it is not in them
    special_measures_since = Date(null=True, default=None)
    opened_on = Date()
    published_on = Date(null=True, default=None)  # the opening report's publication
    action_plan_due_on = Date(null=True, default=None)
    expected_reinspection_on = Date(null=True, default=None)
    sustain_until = Date(null=True, default=None)
    outcome = Varchar(length=30, default="")
    closing_rating = ForeignKey(
        references=Rating, on_delete=OnDelete.set_null, null=True, default=None
    )
    closed_on = Date(null=True, default=None)
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()
    # optimistic concurrency: every change bumps it; a stale version is refused
    version = Integer(default=1)
    # review cadences (days) and the next review of each audience; indexed for the
    # reminder jobs that look for reviews coming up or missed
    internal_review_days = Integer(default=14)
    commissioner_review_days = Integer(default=30)
    next_internal_review_on = Date(null=True, default=None, index=True)
    next_commissioner_review_on = Date(null=True, default=None, index=True)
    # the reviews held so far, kept when one is recorded (improve.reviews.domain) so that
    # portfolios of many cases read one row per case, not every review ever held
    last_review_on = Date(null=True, default=None)
    last_review_rag = Varchar(length=10, default="")
    first_green_review_on = Date(null=True, default=None)


class Finding(Table, tablename="finding"):
    """What went wrong: a breach against a regulation, key question and statements."""

    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, index=True, null=False)
    framework = Varchar(length=30, default="saf")
    regulation = Varchar(length=4, default="")
    key_question = Varchar(length=20)
    items = JSON(default=[])  # framework item ids (quality statements)
    description = Text()
    source = Varchar(length=30, default="cqc_inspection")
    severity = Varchar(length=10, default="high")
    status = Varchar(length=20, default="open")
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()
    version = Integer(default=1)
    # a finding recorded in error (a duplicate, the wrong service) is withdrawn, not
    # deleted: it stays on the record with why, and no longer needs an action
    withdrawn_reason = Text(default="")


class AuditEvent(Table, tablename="audit_event"):
    """Append-only history of every change to a case and its children, written in the
    same transaction as the change. Database triggers refuse UPDATE and DELETE."""

    at = Timestamptz()
    actor = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    actor_name = Varchar(length=200, default="")
    service = ForeignKey(references=Service, on_delete=OnDelete.restrict, index=True, null=False)
    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, null=True, default=None)
    entity = Varchar(length=30)
    entity_id = Integer(null=True, default=None)
    action = Varchar(length=40)
    summary = Varchar(length=300, default="")
    before = JSON(null=True, default=None)
    after = JSON(null=True, default=None)
