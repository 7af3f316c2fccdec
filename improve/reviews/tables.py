from piccolo.columns import JSON, Date, ForeignKey, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from improve.accounts.tables import User
from improve.cases.tables import Case


class Review(Table, tablename="progress_review"):
    """A progress review held and recorded: RAG per theme and overall, confidence in
    meeting the re-inspection date, notes and decisions."""

    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, null=False, index=True)
    audience = Varchar(length=20)  # internal, commissioner
    held_on = Date()
    attendees = Text(default="")
    rag = JSON(default={})  # {theme: "red" | "amber" | "green"}
    overall_rag = Varchar(length=10)
    confidence = Varchar(length=10)  # high, medium, low
    notes = Text(default="")
    decisions = Text(default="")
    recorded_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    recorded_by_name = Varchar(length=200, default="")
    recorded_at = Timestamptz()
