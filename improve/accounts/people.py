"""Organisations and users: creation and changes, with their rules."""

from __future__ import annotations

import re
from typing import Any

from improve import clock
from improve.accounts import passwords, throttle
from improve.accounts.tables import ApiToken, Organisation, OrgKind, Role, User, UserSession
from improve.db import write_tx
from improve.errors import Busy, Invalid, NotFound, TooMany

# Which kind of organisation each role belongs to.
ROLE_ORG_KIND = {
    Role.ADMIN: OrgKind.OPERATOR,
    Role.QUALITY_LEAD: OrgKind.PROVIDER,
    Role.REGISTERED_MANAGER: OrgKind.PROVIDER,
    Role.COMMISSIONER: OrgKind.COMMISSIONER,
}

ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.QUALITY_LEAD: "Provider quality lead",
    Role.REGISTERED_MANAGER: "Registered manager",
    Role.COMMISSIONER: "Commissioner",
}

ORG_KIND_LABELS = {
    OrgKind.PROVIDER: "Provider",
    OrgKind.COMMISSIONER: "Commissioner (council or ICB)",
    OrgKind.OPERATOR: "Operator of this installation",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]


def clean_name(value: str, field: str = "name", max_length: int = 200) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise Invalid({field: "is required"})
    if len(value) > max_length:
        raise Invalid({field: f"must be at most {max_length} characters"})
    return value


def clean_email(value: str) -> str:
    value = (value or "").strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise Invalid({"email": "is not a valid email address"})
    return value


def parse_choice(enum: type, value: str, field: str) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise Invalid({field: f"must be one of {allowed}"}) from None


# --- organisations ---------------------------------------------------------

ORG_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.slug,
    Organisation.kind,
    Organisation.cqc_provider_id,
)

# CQC's provider ids have the form of its location ids: "1-" and digits
_CQC_PROVIDER_ID = re.compile(r"^1-\d{5,12}$")


async def _clean_cqc_provider_id(
    value: Any, kind: str, org_id: int | None, field: str = "cqc_provider_id"
) -> str | None:
    """A CQC provider id to bind to an organisation (administrators only: the callers are
    the Admin pages, the administrators' API and the command line), or None to unbind.
    Only a provider is bound, and to a provider id no other organisation holds."""
    text = str(value or "").strip()
    if not text:
        return None
    if not _CQC_PROVIDER_ID.match(text):
        raise Invalid({field: f"'{text[:40]}' is not a CQC provider id (1- then digits)"})
    if kind != OrgKind.PROVIDER:
        raise Invalid({field: "only a provider has a CQC provider id"})
    holder = (
        await Organisation.select(Organisation.id, Organisation.name)
        .where(Organisation.cqc_provider_id == text)
        .first()
    )
    if holder and holder["id"] != org_id:
        raise Invalid({field: f"{text} is already bound to {holder['name']}"})
    return text


async def create_organisation(
    name: str, kind: str, slug: str = "", cqc_provider_id: str | None = None
) -> dict[str, Any]:
    name = clean_name(name)
    org_kind = parse_choice(OrgKind, kind, "kind")
    slug = slugify(slug or name)
    if not slug:
        raise Invalid({"slug": "must contain letters or digits"})
    async with write_tx():
        if await Organisation.exists().where(Organisation.slug == slug):
            raise Invalid({"slug": f"'{slug}' is already used by another organisation"})
        provider_id = await _clean_cqc_provider_id(cqc_provider_id, org_kind, None)
        rows = await Organisation.insert(
            Organisation(
                name=name,
                slug=slug,
                kind=org_kind,
                created_at=clock.now(),
                cqc_provider_id=provider_id,
            )
        ).returning(*ORG_COLUMNS)
    return rows[0]


_UNCHANGED: Any = object()


async def update_organisation(
    org_id: int, name: str, cqc_provider_id: Any = _UNCHANGED
) -> dict[str, Any]:
    """Renames an organisation and, when given, binds it to a CQC provider id ("" unbinds).
    Administrators only (the Admin pages)."""
    name = clean_name(name)
    async with write_tx():
        current = await organisation(org_id)
        changes: dict[Any, Any] = {Organisation.name: name}
        if cqc_provider_id is not _UNCHANGED:
            changes[Organisation.cqc_provider_id] = await _clean_cqc_provider_id(
                cqc_provider_id, current["kind"], org_id
            )
        rows = (
            await Organisation.update(changes)
            .where(Organisation.id == org_id)
            .returning(*ORG_COLUMNS)
        )
    return rows[0]


async def organisation(org_id: int) -> dict[str, Any]:
    row = await Organisation.select(*ORG_COLUMNS).where(Organisation.id == org_id).first()
    if row is None:
        raise NotFound("No such organisation")
    return row


async def organisation_by_ref(ref: str) -> dict[str, Any]:
    """An organisation by slug, exact name or id (for the command line)."""
    ref = ref.strip()
    query = Organisation.select(*ORG_COLUMNS)
    row = await query.where(Organisation.slug == ref).first()
    row = row or await query.where(Organisation.name == ref).first()
    if row is None and ref.isdigit():
        row = await query.where(Organisation.id == int(ref)).first()
    if row is None:
        raise Invalid({"org": f"no organisation with slug, name or id {ref!r}"})
    return row


async def list_organisations(kind: OrgKind | None = None) -> list[dict[str, Any]]:
    query = Organisation.select(*ORG_COLUMNS).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return await query


# --- users -------------------------------------------------------------------

USER_COLUMNS = (
    User.id,
    User.email,
    User.name,
    User.role,
    User.active,
    User.organisation,
    User.organisation.name.as_alias("organisation_name"),
    User.organisation.kind.as_alias("organisation_kind"),
    User.last_login_at,
)


def _check_role_fits(role: Role, org_kind: str) -> None:
    wanted = ROLE_ORG_KIND[role]
    if org_kind != wanted:
        raise Invalid(
            {"role": f"a {ROLE_LABELS[role].lower()} must belong to a {wanted.value} organisation"}
        )


async def create_user(
    *, email: str, name: str, organisation_id: int, role: str, password: str
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for check in (
        lambda: clean_email(email),
        lambda: clean_name(name),
        lambda: passwords.check_strength(password),
    ):
        try:
            check()
        except Invalid as exc:
            errors.update(exc.errors)
    user_role = None
    try:
        user_role = parse_choice(Role, role, "role")
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    email, name = clean_email(email), clean_name(name)
    org = await organisation(organisation_id)
    _check_role_fits(user_role, org["kind"])
    password_hash = await passwords.hash_off_loop(password)
    async with write_tx():
        if await User.exists().where(User.email == email):
            raise Invalid({"email": "another user already has this email address"})
        rows = await User.insert(
            User(
                email=email,
                name=name,
                organisation=org["id"],
                role=user_role,
                password_hash=password_hash,
                active=True,
                created_at=clock.now(),
            )
        ).returning(User.id)
    return await user(rows[0]["id"])


async def user(user_id: int) -> dict[str, Any]:
    row = await User.select(*USER_COLUMNS).where(User.id == user_id).first()
    if row is None:
        raise NotFound("No such user")
    return row


async def list_users(organisation_id: int | None = None) -> list[dict[str, Any]]:
    query = User.select(*USER_COLUMNS).order_by(User.organisation.name).order_by(User.name)
    if organisation_id is not None:
        query = query.where(User.organisation == organisation_id)
    return await query


async def update_user(user_id: int, *, name: str, role: str, active: bool) -> dict[str, Any]:
    name = clean_name(name)
    user_role = parse_choice(Role, role, "role")
    current = await user(user_id)
    _check_role_fits(user_role, current["organisation_kind"])
    async with write_tx():
        await User.update({User.name: name, User.role: user_role, User.active: active}).where(
            User.id == user_id
        )
        if not active:
            # a deactivated person is logged out everywhere at once
            await UserSession.delete().where(UserSession.user == user_id)
    return await user(user_id)


async def set_password(
    user_id: int, password: str, field: str = "password", *, end_tokens: bool = True
) -> int:
    """Set a new password: every login of the person ends, and their API tokens too
    unless ``end_tokens`` is False (the owner's choice on their own form). Returns how
    many tokens ended. The hash is made before the transaction: on SQLite a transaction
    holds the one write lock, which no other write should wait out a hash for."""
    passwords.check_strength(password, field)
    password_hash = await passwords.hash_off_loop(password)
    ended: list = []
    async with write_tx():
        updated = (
            await User.update({User.password_hash: password_hash})
            .where(User.id == user_id)
            .returning(User.id)
        )
        if not updated:
            raise NotFound("No such user")
        # a new password ends every other login of this person
        await UserSession.delete().where(UserSession.user == user_id)
        if end_tokens:
            ended = (
                await ApiToken.update({ApiToken.revoked_at: clock.now()})
                .where((ApiToken.user == user_id) & ApiToken.revoked_at.is_null())
                .returning(ApiToken.id)
            )
    return len(ended)


async def change_own_password(
    user_id: int, current: str, new: str, confirm: str, *, keep_tokens: bool = False
) -> int:
    """The password-change form. Wrong current passwords are counted like failed logins
    (throttle.reserve, before the hash), under the person's own key: a stranger's failed
    logins never lock this form, and someone holding a stolen session gets the free
    attempts and then growing waits. Returns how many API tokens ended."""
    errors: dict[str, str] = {}
    for name, value in (
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", confirm),
    ):
        try:
            passwords.check_length(value, name)
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    passwords.check_strength(new, "new_password")
    if new != confirm:
        raise Invalid({"confirm_password": "does not match the new password"})
    key = throttle.user_key(user_id)
    try:
        count = await throttle.reserve(key)
    except throttle.Limited as locked:
        raise TooMany(
            {"current_password": f"was wrong too many times. Try again in {locked.minutes}."},
            retry_after=locked.seconds,
        ) from None
    row = await User.select(User.password_hash).where(User.id == user_id).first()
    try:
        ok = row is not None and await passwords.verify_off_loop(row["password_hash"], current)
    except Busy:
        await throttle.give_back(key, count)
        raise
    if not ok:
        raise Invalid({"current_password": "is not your current password"})
    async with write_tx():
        await throttle.clear(key)
    return await set_password(user_id, new, field="new_password", end_tokens=not keep_tokens)
