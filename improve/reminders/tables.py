from piccolo.columns import JSON, ForeignKey, Integer, OnDelete, Text, Timestamptz, Varchar
from piccolo.table import Table

from improve.accounts.tables import User
from improve.cases.tables import Case


class Outbox(Table, tablename="outbox"):
    """Every email, written once (the dedupe key is unique), claimed by one sender with a
    conditional update, and marked sent. A restart or a mail server outage loses nothing:
    pending and stale 'sending' rows are picked up again."""

    kind = Varchar(length=40)
    dedupe_key = Varchar(length=200, unique=True)
    user = ForeignKey(references=User, on_delete=OnDelete.set_null, null=True, default=None)
    email = Varchar(length=254)
    subject = Varchar(length=300)
    text_body = Text()
    html_body = Text()
    headers = JSON(default={})
    ics = Text(default="")
    case = ForeignKey(references=Case, on_delete=OnDelete.set_null, null=True, default=None)
    # indexed: the sender looks for pending rows
    status = Varchar(length=20, default="pending", index=True)
    attempts = Integer(default=0)
    claimed_at = Timestamptz(null=True, default=None)  # the real time of the claim or renewal
    claim_token = Varchar(length=32, default="")  # whose claim it is (empty: nobody's)
    sent_at = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    created_at = Timestamptz()
    # a failed send waits before the next try (back-off), then is retried
    next_attempt_at = Timestamptz(null=True, default=None)


class Notification(Table, tablename="notification"):
    """The in-app copy of a reminder, with an unread count per person."""

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, null=False, index=True)
    kind = Varchar(length=40)
    title = Varchar(length=300)
    link = Varchar(length=300, default="")
    created_at = Timestamptz()
    read_at = Timestamptz(null=True, default=None)
