"""Sample data for `improve demo`: two providers, two commissioners, one login per role."""

from __future__ import annotations

import secrets

from improve import db
from improve.access import Viewer, viewer_from_row
from improve.accounts import people
from improve.accounts.tables import Organisation, OrgKind, Role
from improve.cases import domain as cases
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
    created = {}
    for name, provider, kind, beds, la, manager, commissioners in SERVICES:
        created[name] = await services.create(
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
    await _journeys(created, {e: viewer_from_row(u) for e, u in users.items()})
    return logins


def _rating(published_on: str, overall: str, **kqs: str) -> dict:
    base = dict.fromkeys(("safe", "effective", "caring", "responsive", "well_led"), overall)
    return {"published_on": published_on, "overall": overall, **base, **kqs}


FINDINGS = {
    "medicines": (
        "12",
        "safe",
        ["safe.medicines"],
        "Medicines were not always given as prescribed; MAR charts had gaps and "
        "'as required' medicines had no protocols.",
    ),
    "risk": (
        "12",
        "safe",
        ["safe.involving_people_risks", "safe.safe_environments"],
        "Risks to people were not assessed or managed: falls risk assessments were out of "
        "date and pressure care was not recorded.",
    ),
    "safeguarding": (
        "13",
        "safe",
        ["safe.safeguarding"],
        "Allegations of abuse were not always referred to the local authority "
        "safeguarding team or notified to CQC.",
    ),
    "governance": (
        "17",
        "well_led",
        ["well_led.governance", "well_led.learning_improvement"],
        "Audits did not identify the shortfalls found at inspection; actions from "
        "the last inspection had not been completed.",
    ),
    "staffing": (
        "18",
        "safe",
        ["safe.safe_staffing"],
        "There were not enough staff at night to meet people's needs; staff had not "
        "completed training in moving and handling.",
    ),
    "care_plans": (
        "9",
        "responsive",
        ["responsive.person_centred_care"],
        "Care plans were generic and did not reflect people's preferences, histories "
        "or how they wished to be supported.",
    ),
    "consent": (
        "11",
        "effective",
        ["effective.consent"],
        "Mental capacity assessments and best interest decisions were not recorded "
        "for people who lacked capacity.",
    ),
}


async def _findings(viewer: Viewer, case_id: int, keys: list[str]) -> None:
    for key in keys:
        reg, kq, items, text = FINDINGS[key]
        await cases.add_finding(
            viewer,
            case_id,
            {
                "regulation": reg,
                "key_question": kq,
                "items": items,
                "description": text,
                "source": "cqc_inspection",
                "severity": "high",
            },
        )


async def _plan(viewer: Viewer, case_id: int, checker: Viewer | None = None) -> None:
    """The strong proposals, as a manager accepting the builder's suggestions would; then
    some progress: a few done, one verified by the quality lead with evidence, one
    blocked, and two that slipped past their due dates."""
    import datetime as dt

    from improve import clock
    from improve.evidence import domain as evidence
    from improve.plans import actions
    from improve.plans import domain as plans_domain
    from improve.plans.proposals import STRONG

    view = await plans_domain.builder(viewer, case_id)
    chosen = [
        {"template_id": p.template.id, "owner": viewer.user_id}
        for p in view["proposals"]
        if p.score >= STRONG
    ]
    rows = await plans_domain.commit(viewer, case_id, chosen)
    if checker is None or len(rows) < 6:
        return
    today = clock.today()
    first, second, third, fourth, fifth = rows[:5]
    for row in (first, second):
        row = await actions.update(
            viewer,
            row["id"],
            {"status": "done", "note": "Done and shared at the team meeting."},
            version=row["version"],
        )
    await evidence.add(
        viewer,
        action_id=first["id"],
        text="Audit results, first month",
        file_name="audit-results.csv",
        content=b"week,charts checked,gaps\n1,20,6\n2,20,2\n3,20,0\n",
    )
    done = await actions.get_action(viewer, first["id"])
    await actions.update(
        checker,
        first["id"],
        {
            "status": "verified",
            "evidence": "Checked the audit file and 10 charts on the floor: no gaps since week 3.",
        },
        version=done["version"],
    )
    await actions.update(
        viewer,
        third["id"],
        {"status": "in_progress", "note": "Started; half the staff seen."},
        version=third["version"],
    )
    await actions.update(
        viewer,
        fourth["id"],
        {"status": "blocked", "reason": "Waiting for the provider to approve agency budget."},
        version=fourth["version"],
    )
    await actions.update(
        viewer, fifth["id"], {"due_on": today - dt.timedelta(days=5)}, version=fifth["version"]
    )
    sixth = rows[5]
    await actions.update(
        viewer, sixth["id"], {"due_on": today - dt.timedelta(days=16)}, version=sixth["version"]
    )


async def _reviews(manager: Viewer, commissioner: Viewer, case_id: int) -> None:
    """An internal review last week and a commissioner review before it."""
    import datetime as dt

    from improve import clock
    from improve.reviews import domain as reviews

    today = clock.today()
    await reviews.record(
        commissioner,
        case_id,
        {
            "audience": "commissioner",
            "held_on": today - dt.timedelta(days=12),
            "attendees": "Mark Hill (Devon County Council), Tom Evans, Priya Shah",
            "rag_person_centred_care": "red",
            "rag_staffing": "amber",
            "overall_rag": "red",
            "confidence": "low",
            "notes": "Care plans still generic; night staffing improving.",
            "decisions": "Placements stay suspended until the next review.",
        },
    )
    await reviews.record(
        manager,
        case_id,
        {
            "audience": "internal",
            "held_on": today - dt.timedelta(days=5),
            "attendees": "Tom Evans, Priya Shah",
            "rag_leadership": "green",
            "rag_cultural_change": "amber",
            "rag_person_centred_care": "amber",
            "rag_staffing": "amber",
            "rag_working_with_partners": "green",
            "overall_rag": "amber",
            "confidence": "medium",
            "notes": "Medicines audits are now weekly; gaps down from 6 to 0 in three weeks.",
            "decisions": "Start rewriting care plans with families this month.",
        },
    )


async def _journeys(homes: dict[str, dict], people_: dict[str, Viewer]) -> None:
    """Rating histories and cases at different points of the journey."""
    tom, grace = people_["manager@oakwood.demo"], people_["deputy.manager@oakwood.demo"]
    lucy = people_["manager@harbour.demo"]
    oak, beech = homes["Oakwood House"]["id"], homes["Beech Lodge Nursing Home"]["id"]
    exeter, harbour = homes["Oakwood Home Care Exeter"]["id"], homes["Harbour View"]["id"]
    living = homes["Harbour Lights Supported Living"]["id"]

    # Oakwood House: Good, then Requires improvement, now Inadequate with notices; plan drafted
    await cases.record_rating(tom, oak, _rating("2023-05-10", "Good"))
    await cases.record_rating(
        tom, oak, _rating("2025-01-15", "Requires improvement", caring="Good")
    )
    await cases.record_rating(
        tom,
        oak,
        {
            **_rating(
                "2026-09-02",
                "Inadequate",
                effective="Requires improvement",
                caring="Good",
                responsive="Requires improvement",
            ),
            "enforcement": [
                {
                    "kind": "warning_notice",
                    "regulation": "12",
                    "compliance_due_on": "2026-12-14",
                    "description": "Safe care and treatment: medicines and risk management.",
                },
                {
                    "kind": "requirement_notice",
                    "regulation": "17",
                    "description": "Good governance.",
                },
            ],
        },
    )
    case = await cases.open_case(tom, oak)
    await _findings(
        tom, case["id"], ["medicines", "risk", "safeguarding", "governance", "care_plans"]
    )
    # drafting the plan moves the case to "plan drafted"
    await _plan(tom, case["id"], people_["quality@oakwood.demo"])
    await _reviews(tom, people_["commissioner@devon.demo"], case["id"])

    # Beech Lodge: Inadequate in Safe only; the case is being assessed
    await cases.record_rating(grace, beech, _rating("2024-03-01", "Requires improvement"))
    await cases.record_rating(
        grace,
        beech,
        _rating("2026-10-28", "Requires improvement", safe="Inadequate", caring="Good"),
    )
    case = await cases.open_case(grace, beech)
    await _findings(grace, case["id"], ["staffing", "medicines"])

    # Oakwood Home Care: Inadequate last year, recovered this autumn: sustaining
    await cases.record_rating(
        tom, exeter, _rating("2025-12-01", "Inadequate", caring="Requires improvement")
    )
    case = await cases.open_case(tom, exeter)
    await _findings(tom, case["id"], ["care_plans", "consent", "governance"])
    await cases.record_rating(
        tom, exeter, _rating("2026-10-20", "Requires improvement", caring="Good", responsive="Good")
    )

    # Harbour View: an old journey that ended well, and a new one after a fall back
    await cases.record_rating(lucy, harbour, _rating("2019-03-01", "Inadequate"))
    old = await cases.open_case(lucy, harbour)
    await _findings(lucy, old["id"], ["risk", "governance"])
    await cases.record_rating(lucy, harbour, _rating("2020-02-01", "Good"))
    old = await cases.get_case(lucy, old["id"])
    await cases.move(lucy, old["id"], "closed", outcome="improved", version=old["version"])
    await cases.record_rating(
        lucy,
        harbour,
        _rating(
            "2026-06-10",
            "Inadequate",
            caring="Requires improvement",
            effective="Requires improvement",
        ),
    )
    case = await cases.open_case(lucy, harbour)
    await _findings(lucy, case["id"], ["safeguarding", "staffing", "governance", "consent"])
    await _plan(lucy, case["id"], people_["quality@harbour.demo"])

    # Supported living: Good, no case
    await cases.record_rating(
        people_["quality@harbour.demo"], living, _rating("2025-08-01", "Good")
    )


async def prepare() -> list[tuple[str, str]]:
    await db.migrate()
    await db.prepare(1)
    try:
        return await load()
    finally:
        await db.release()
