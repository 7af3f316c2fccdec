from piccolo.columns import (
    JSON,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from improve.accounts.tables import Organisation, User
from improve.cases.tables import Case
from improve.services.tables import Service


class MonitoringLevel(Table, tablename="monitoring_level"):
    """A commissioning organisation's own monitoring level (there is no national
    standard): a name, a rank (1 = routine, higher = more concern) and how often a
    service at this level is reviewed."""

    commissioner = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
    name = Varchar(length=80)
    rank = Integer(default=1)
    review_every_days = Integer(default=90)
    description = Text(default="")
    created_at = Timestamptz()


class MonitoringStatus(Table, tablename="monitoring_status"):
    """The level one commissioner holds one service at, and when it is next reviewed.
    One row per service and commissioner (a raw unique index)."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    commissioner = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
    level = ForeignKey(references=MonitoringLevel, on_delete=OnDelete.restrict, null=False)
    # indexed: the reminder job looks for reviews coming up
    review_on = Date(null=True, default=None, index=True)
    note = Text(default="")
    set_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    set_at = Timestamptz()


class MonitoringVisit(Table, tablename="monitoring_visit"):
    """A commissioner's own monitoring visit (PAMMS-style). Its findings join the
    service's open case (or open one) so there is one plan, not two."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    commissioner = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
    case = ForeignKey(references=Case, on_delete=OnDelete.set_null, null=True, default=None)
    visited_on = Date()
    kind = Varchar(length=30, default="quality_audit")
    outcome = Varchar(length=30, default="")  # excellent, good, requires_improvement, poor
    summary = Text(default="")
    finding_ids = JSON(default=[])
    action_plan_due_on = Date(null=True, default=None)
    recorded_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()
