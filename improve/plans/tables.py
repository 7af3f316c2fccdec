from piccolo.columns import JSON, Date, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from improve.accounts.tables import Organisation, User
from improve.cases.tables import Case, Finding


class Plan(Table, tablename="action_plan"):
    """A case's action plan (one per case). Keeps the playbook versions it was built from."""

    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, null=False, unique=True)
    started_on = Date()
    playbook_versions = JSON(default={})  # {playbook id: version}
    created_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    created_at = Timestamptz()
    version = Integer(default=1)


class Action(Table, tablename="plan_action"):
    """One action of a plan: adapted from a playbook template, or written by the manager."""

    plan = ForeignKey(references=Plan, on_delete=OnDelete.restrict, null=False, index=True)
    template_id = Varchar(length=120, null=True, default=None)  # null: a custom action
    playbook_id = Varchar(length=60, default="")
    playbook_version = Integer(default=0)
    theme = Varchar(length=40)
    title = Varchar(length=200)
    steps = JSON(default=[])
    why = Text(default="")
    evidence_expected = JSON(default=[])
    measure = Varchar(length=40, null=True, default=None)
    owner = ForeignKey(
        references=User, on_delete=OnDelete.set_null, null=True, default=None, index=True
    )
    owner_role = Varchar(length=40, default="registered_manager")
    # indexed: reminder jobs look for actions due soon or overdue
    due_on = Date(index=True)
    # the due date first agreed: an open action due later than this has slipped, however
    # many times it was moved (each move is in the history)
    first_due_on = Date(null=True, default=None)
    status = Varchar(length=20, default="not_started", index=True)
    blocked_reason = Text(default="")
    verified_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    verified_on = Date(null=True, default=None)
    created_at = Timestamptz()
    version = Integer(default=1)
    # who marked it done: verification must come from someone else
    done_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    done_on = Date(null=True, default=None)
    verification_note = Text(default="")
    # why an action was dropped from the plan (no longer needed, merged, overtaken): it
    # stays on the record, out of the counts, answering no finding
    dropped_reason = Text(default="")


class ActionFinding(Table, tablename="action_finding"):
    """Which findings an action answers (unique pair: a raw index in the migration)."""

    action = ForeignKey(references=Action, on_delete=OnDelete.cascade, null=False, index=True)
    finding = ForeignKey(references=Finding, on_delete=OnDelete.restrict, null=False, index=True)


class ActionNote(Table, tablename="action_note"):
    """A dated progress note on an action, in the author's words."""

    action = ForeignKey(references=Action, on_delete=OnDelete.cascade, null=False, index=True)
    author = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    author_name = Varchar(length=200, default="")
    at = Timestamptz()
    text = Text()


class OrgPlaybook(Table, tablename="org_playbook"):
    """A playbook an organisation wrote for itself (uploaded YAML, validated like ours).
    Every version is kept, so a plan built from one can always be traced to its text."""

    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, null=False, index=True
    )
    playbook_id = Varchar(length=60)
    version = Integer()
    theme = Varchar(length=40)
    title = Varchar(length=200)
    source = Text()
    uploaded_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    uploaded_at = Timestamptz()


# Filters by indexed foreign keys. Piccolo writes a filter on a joined column
# (Action.plan.case == x) as a LEFT JOIN that SQLite answers by scanning every action; a
# sub-select on the foreign key uses its index instead.
def plan_ids_of_case(case_id: int):
    return Plan.select(Plan.id).where(Plan.case == case_id)


def plan_ids_of_cases(case_ids):
    return Plan.select(Plan.id).where(Plan.case.is_in(case_ids))


def action_ids_of_case(case_id: int):
    return Action.select(Action.id).where(Action.plan.is_in(plan_ids_of_case(case_id)))
