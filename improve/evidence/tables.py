from piccolo.columns import ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from improve.accounts.tables import User
from improve.cases.tables import Case, Finding
from improve.plans.tables import Action


class Evidence(Table, tablename="evidence"):
    """Proof attached to an action or a finding: a text, a link or a file.

    Files live under IMPROVE_UPLOAD_DIR with a random name; the row keeps the name the
    person gave, the type found by reading the content, the size and a SHA-256.

    Withdrawn evidence (a wrong file, a resident's details where they should not be)
    keeps its row, with who withdrew it, when and why; its file is deleted and its note,
    link and file name are emptied here and redacted in the history.
    """

    case = ForeignKey(references=Case, on_delete=OnDelete.restrict, null=False, index=True)
    action = ForeignKey(
        references=Action, on_delete=OnDelete.restrict, null=True, default=None, index=True
    )
    finding = ForeignKey(
        references=Finding, on_delete=OnDelete.restrict, null=True, default=None, index=True
    )
    kind = Varchar(length=10)  # text, link, file
    text = Text(default="")
    url = Varchar(length=2000, default="")
    file_name = Varchar(length=200, default="")
    stored_name = Varchar(length=64, default="")
    content_type = Varchar(length=100, default="")
    size = Integer(default=0)
    sha256 = Varchar(length=64, default="")
    uploaded_by = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    uploaded_by_name = Varchar(length=200, default="")
    uploaded_at = Timestamptz()
    withdrawn_at = Timestamptz(null=True, default=None)
    withdrawn_by_name = Varchar(length=200, default="")
    withdrawn_reason = Text(default="")
