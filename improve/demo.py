"""Sample data for `improve demo`: two providers, two commissioners, one login per role."""

from __future__ import annotations

import secrets

from improve import db
from improve.access import Viewer
from improve.accounts import people
from improve.accounts.tables import Organisation, OrgKind, Role
from improve.services import domain as services
from improve.settings import Settings

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 (printed for the demo on purpose)
DEMO_DATABASE = "sqlite:///var/demo.sqlite"

ORGANISATIONS = [
    ("Improve operations", OrgKind.OPERATOR),
    ("Oakwood Care Group", OrgKind.PROVIDER),
    ("Harbour Lights Care", OrgKind.PROVIDER),
    ("Devon County Council", OrgKind.COMMISSIONER),
    ("NHS Cornwall and Isles of Scilly ICB", OrgKind.COMMISSIONER),
]

USERS = [
    ("admin@demo.improve", "Ada Admin", "Improve operations", Role.ADMIN),
    ("quality@oakwood.demo", "Priya Shah", "Oakwood Care Group", Role.QUALITY_LEAD),
    ("manager@oakwood.demo", "Tom Evans", "Oakwood Care Group", Role.REGISTERED_MANAGER),
    ("deputy.manager@oakwood.demo", "Grace Okafor", "Oakwood Care Group", Role.REGISTERED_MANAGER),
    ("quality@harbour.demo", "Sam Jones", "Harbour Lights Care", Role.QUALITY_LEAD),
    ("manager@harbour.demo", "Lucy Trelawny", "Harbour Lights Care", Role.REGISTERED_MANAGER),
    ("commissioner@devon.demo", "Mark Hill", "Devon County Council", Role.COMMISSIONER),
    (
        "commissioner@cios-icb.demo",
        "Kerenza Pascoe",
        "NHS Cornwall and Isles of Scilly ICB",
        Role.COMMISSIONER,
    ),
]

# name, provider, type, beds, local authority, manager email, commissioners
SERVICES = [
    (
        "Oakwood House",
        "Oakwood Care Group",
        "care_home",
        42,
        "Devon",
        "manager@oakwood.demo",
        ["Devon County Council"],
    ),
    (
        "Beech Lodge Nursing Home",
        "Oakwood Care Group",
        "care_home_nursing",
        64,
        "Devon",
        "deputy.manager@oakwood.demo",
        ["Devon County Council"],
    ),
    (
        "Oakwood Home Care Exeter",
        "Oakwood Care Group",
        "home_care",
        None,
        "Devon",
        "manager@oakwood.demo",
        ["Devon County Council"],
    ),
    (
        "Harbour View",
        "Harbour Lights Care",
        "care_home",
        28,
        "Cornwall",
        "manager@harbour.demo",
        ["NHS Cornwall and Isles of Scilly ICB"],
    ),
    (
        "Harbour Lights Supported Living",
        "Harbour Lights Care",
        "supported_living",
        None,
        "Cornwall",
        None,
        ["NHS Cornwall and Isles of Scilly ICB", "Devon County Council"],
    ),
]


def demo_settings(port: int) -> Settings:
    return Settings(
        mode="demo",
        database_url=DEMO_DATABASE,
        secret_key=secrets.token_urlsafe(48),
        base_url=f"http://127.0.0.1:{port}",
    ).check()


async def load() -> list[tuple[str, str]]:
    """Creates the sample data unless it is already there; returns (role, email) logins."""
    logins = [(people.ROLE_LABELS[role], email) for email, _, _, role in USERS]
    if await Organisation.exists().where(Organisation.slug == "oakwood-care-group"):
        return logins
    orgs = {}
    for name, kind in ORGANISATIONS:
        orgs[name] = await people.create_organisation(name, kind)
    users = {}
    for email, name, org, role in USERS:
        users[email] = await people.create_user(
            email=email,
            name=name,
            organisation_id=orgs[org]["id"],
            role=role,
            password=DEMO_PASSWORD,
        )
    admin = users["admin@demo.improve"]
    operator = Viewer(
        admin["id"],
        admin["email"],
        admin["name"],
        Role.ADMIN,
        orgs["Improve operations"]["id"],
        "Improve operations",
        OrgKind.OPERATOR,
    )
    for name, provider, kind, beds, la, manager, commissioners in SERVICES:
        await services.create(
            operator,
            {
                "name": name,
                "provider": orgs[provider]["id"],
                "service_type": kind,
                "beds": beds,
                "local_authority": la,
                "manager": users[manager]["id"] if manager else None,
                "commissioners": [orgs[c]["id"] for c in commissioners],
            },
        )
    return logins


async def prepare() -> list[tuple[str, str]]:
    await db.migrate()
    await db.prepare(1)
    try:
        return await load()
    finally:
        await db.release()
