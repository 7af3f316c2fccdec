from piccolo.columns import (
    JSON,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from improve.accounts.tables import Organisation, User
from improve.services.tables import Service


class MeasureDefinition(Table, tablename="measure_definition"):
    """A measure an organisation defines for itself, beside the built-in catalogue.
    Its key is unique within the organisation (a raw unique index)."""

    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
    key = Varchar(length=40)
    name = Varchar(length=120)
    unit = Varchar(length=30, default="")
    better = Varchar(length=4, default="up")  # "up" or "down"
    description = Text(default="")
    created_at = Timestamptz()


class MeasureValue(Table, tablename="measure_value"):
    """One month's figure of one measure for one service. One row per service, measure
    and month (a raw unique index): entering it again replaces the figure."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    measure = Varchar(length=40)
    month = Date()  # always the first day of the month
    value = DoublePrecision()
    source = Varchar(length=10, default="form")  # form, csv, demo
    entered_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    updated_at = Timestamptz()


class MeasureUpload(Table, tablename="measure_upload"):
    """A CSV of measures that was accepted whole (a file with any bad row is refused and
    not kept). The text is kept so what was uploaded can be checked later."""

    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.cascade, index=True, null=False
    )
    filename = Varchar(length=200)
    rows = Integer(default=0)
    content = Text()
    uploaded_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()


class MeasureSummary(Table, tablename="measure_summary"):
    """The latest figure and run-chart signal of one measure of one service, kept as the
    figures are saved (improve.measures.summaries), so a portfolio of fifty homes reads
    one row per home and measure instead of analysing 24 months of each on every view."""

    service = ForeignKey(references=Service, on_delete=OnDelete.cascade, index=True, null=False)
    measure = Varchar(length=40)
    points = Integer(default=0)
    latest_month = Date()
    latest_value = DoublePrecision()
    # {kind, direction, improving, explanation, start, end}, or null: no signal yet
    signal = JSON(null=True, default=None)
    basis = Varchar(length=20)  # the run-chart thresholds the signal was found with
    updated_at = Timestamptz()
