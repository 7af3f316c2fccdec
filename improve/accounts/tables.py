from enum import StrEnum

from piccolo.columns import (
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class OrgKind(StrEnum):
    PROVIDER = "provider"  # a care company or charity running services
    COMMISSIONER = "commissioner"  # a council or integrated care board
    OPERATOR = "operator"  # whoever runs this installation; its users are admins


class Role(StrEnum):
    ADMIN = "admin"
    QUALITY_LEAD = "quality_lead"
    REGISTERED_MANAGER = "registered_manager"
    COMMISSIONER = "commissioner"


class Organisation(Table, tablename="organisation"):
    name = Varchar(length=200)
    slug = Varchar(length=80, unique=True)
    kind = Varchar(length=20, choices=OrgKind, index=True)
    created_at = Timestamptz()
    # the CQC provider id ("1-" and digits) this provider is, bound by an administrator
    # (the Admin page, or an administrator's import under a chosen provider): the only
    # thing an import's "match automatically" trusts. Unique through a raw index (SQLite
    # cannot add a UNIQUE column); null while not bound.
    cqc_provider_id = Varchar(length=20, null=True, default=None)


class User(Table, tablename="app_user"):
    email = Varchar(length=254, unique=True)  # stored lower-cased
    name = Varchar(length=200)
    organisation = ForeignKey(
        references=Organisation, on_delete=OnDelete.restrict, index=True, null=False
    )
    role = Varchar(length=30, choices=Role)
    password_hash = Varchar(length=200)
    active = Boolean(default=True)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    # weekly digest emails; reminders about overdue actions cannot be turned off
    digests_enabled = Boolean(default=True)


class UserSession(Table, tablename="user_session"):
    """A browser login. The cookie holds a random token; only its hash is stored."""

    token_hash = Varchar(length=64, unique=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True, null=False)
    created_at = Timestamptz()
    # indexed: expired sessions are purged by a range query on it
    expires_at = Timestamptz(index=True)


class ApiToken(Table, tablename="api_token"):
    """A personal token for the JSON API (Authorization: Bearer). Stored hashed."""

    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True, null=False)
    name = Varchar(length=100)
    prefix = Varchar(length=16)  # shown in the profile so people can tell tokens apart
    token_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class LoginThrottle(Table, tablename="login_throttle"):
    """Password attempts per email address typed at the login form (known or not, so
    lock-outs reveal nothing), or per person for the password-change form (``user:<id>``:
    no ``@``, so nothing typed at the login form can count against it); and when a
    password reset link was last sent to an address (one per few minutes, so nobody can
    flood a colleague's inbox). improve.accounts.throttle counts and prunes them."""

    email = Varchar(length=254, unique=True)
    failures = Integer(default=0)
    locked_until = Timestamptz(null=True, default=None)
    reset_sent_at = Timestamptz(null=True, default=None)
    # when the row last counted something; indexed: rows untouched for a day are pruned
    touched_at = Timestamptz(null=True, default=None, index=True)


class LoginAddress(Table, tablename="login_address"):
    """Failed (or unfinished) password checks per client address in its current window
    (IMPROVE_LOGIN_ADDRESS_ATTEMPTS per 15 minutes; an IPv6 client counts by its /64)."""

    address = Varchar(length=64, unique=True)
    # indexed: ended windows are pruned by a range query on it
    window_start = Timestamptz(index=True)
    attempts = Integer(default=0)
