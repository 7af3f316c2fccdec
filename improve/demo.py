"""Sample data for `improve demo`: two providers, two commissioners, one login per role.

Every date is counted back from today, so the demo tells the same story whenever it is
built: events in the past are staged at their own dates (the clock is stopped at each),
so cases, actions, reviews and the history read as they would have happened.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from improve import clock, db
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
    viewers = {e: viewer_from_row(u) for e, u in users.items()}
    ids = {name: row["id"] for name, row in created.items()}
    await _journeys(ids, viewers)
    await _measures(ids, viewers)
    await _monitoring(ids, viewers)
    return logins


def _ago(days: int) -> dt.date:
    """A date ``days`` before today (read the clock before staging anything)."""
    return clock.today() - dt.timedelta(days=days)


@contextmanager
def _on(day: dt.date) -> Iterator[None]:
    """Stage what happens in the block on ``day`` (mid-morning, local time): every date
    and time the domain reads from the clock is that day's."""
    from improve.settings import get_settings

    at = dt.datetime.combine(day, dt.time(10, 30), tzinfo=get_settings().tz)
    with clock.frozen(at):
        yield


def _rating(published_on: dt.date, overall: str, **kqs: str) -> dict:
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


async def _commit_strong(viewer: Viewer, case_id: int) -> list[dict]:
    """The strong proposals, as a manager accepting the builder's suggestions would."""
    from improve.plans import domain as plans_domain
    from improve.plans.proposals import STRONG

    view = await plans_domain.builder(viewer, case_id)
    chosen = [
        {"template_id": p.template.id, "owner": viewer.user_id}
        for p in view["proposals"]
        if p.score >= STRONG
    ]
    return await plans_domain.commit(viewer, case_id, chosen)


async def _plan(viewer: Viewer, case_id: int, checker: Viewer | None = None) -> None:
    """The strong proposals; then some progress: a few done, one verified by the quality
    lead with evidence, one blocked, and two that slipped past their due dates."""
    from improve.evidence import domain as evidence
    from improve.plans import actions

    rows = await _commit_strong(viewer, case_id)
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
    # one date moved later than first agreed: the plan, the portfolio and the briefing say so
    if len(rows) > 6:
        seventh = rows[6]
        await actions.update(
            viewer,
            seventh["id"],
            {
                "due_on": seventh["due_on"] + dt.timedelta(days=21),
                "note": "Moved: the trainer cancelled the first date.",
            },
            version=seventh["version"],
        )


async def _review(viewer: Viewer, case_id: int, held_on: dt.date, **fields: str) -> None:
    """A review, recorded on the day it was held."""
    from improve.reviews import domain as reviews

    with _on(held_on):
        await reviews.record(viewer, case_id, {"held_on": held_on, **fields})


async def _reviews(manager: Viewer, commissioner: Viewer, case_id: int) -> None:
    """An internal review last week and a commissioner review before it."""
    await _review(
        commissioner,
        case_id,
        _ago(12),
        audience="commissioner",
        attendees="Mark Hill (Devon County Council), Tom Evans, Priya Shah",
        rag_person_centred_care="red",
        rag_staffing="amber",
        overall_rag="red",
        confidence="low",
        notes="Care plans still generic; night staffing improving.",
        decisions="Placements stay suspended until the next review.",
    )
    await _review(
        manager,
        case_id,
        _ago(5),
        audience="internal",
        attendees="Tom Evans, Priya Shah",
        rag_leadership="green",
        rag_cultural_change="amber",
        rag_person_centred_care="amber",
        rag_staffing="amber",
        rag_working_with_partners="green",
        overall_rag="amber",
        confidence="medium",
        notes="Medicines audits are now weekly; gaps down from 6 to 0 in three weeks.",
        decisions="Start rewriting care plans with families this month.",
    )


async def _finished_journey(
    viewer: Viewer, service_id: int, low: dict, better: dict, findings: list[str]
) -> None:
    """An old journey that ended well: opened a week after the Inadequate report, closed
    ten days after the better one."""
    await cases.record_rating(viewer, service_id, low)
    with _on(low["published_on"] + dt.timedelta(days=7)):
        case = await cases.open_case(viewer, service_id)
        await _findings(viewer, case["id"], findings)
    with _on(better["published_on"]):
        await cases.record_rating(viewer, service_id, better)
    with _on(better["published_on"] + dt.timedelta(days=10)):
        case = await cases.get_case(viewer, case["id"])
        await cases.move(viewer, case["id"], "closed", outcome="improved", version=case["version"])


async def _journeys(homes: dict[str, int], people_: dict[str, Viewer]) -> None:
    """Rating histories and cases at different points of the journey."""
    tom, grace = people_["manager@oakwood.demo"], people_["deputy.manager@oakwood.demo"]
    lucy = people_["manager@harbour.demo"]
    oak, beech = homes["Oakwood House"], homes["Beech Lodge Nursing Home"]
    harbour, living = homes["Harbour View"], homes["Harbour Lights Supported Living"]

    # Oakwood House: Good, then Requires improvement, now Inadequate with notices; a new
    # manager for eight months; plan drafted
    await cases.record_rating(tom, oak, _rating(_ago(1293), "Good"))
    await cases.record_rating(tom, oak, _rating(_ago(677), "Requires improvement", caring="Good"))
    await cases.record_rating(
        tom,
        oak,
        {
            **_rating(
                _ago(82),
                "Inadequate",
                effective="Requires improvement",
                caring="Good",
                responsive="Requires improvement",
            ),
            "enforcement": [
                {
                    "kind": "warning_notice",
                    "regulation": "12",
                    "compliance_due_on": _ago(-21),
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
    await _assess(homes, people_, "Oakwood House", 170)
    with _on(_ago(78)):
        case = await cases.open_case(tom, oak)
        await _findings(
            tom, case["id"], ["medicines", "risk", "safeguarding", "governance", "care_plans"]
        )
    await _assess(homes, people_, "Oakwood House", 75)
    # drafting the plan moves the case to "plan drafted"
    await _plan(tom, case["id"], people_["quality@oakwood.demo"])
    await _reviews(tom, people_["commissioner@devon.demo"], case["id"])
    await _assess(homes, people_, "Oakwood House", 6)

    # Beech Lodge: an old journey that ended well; now Inadequate in Safe only, and the
    # case is being assessed (stalling: agency use keeps rising)
    await _finished_journey(
        grace,
        beech,
        _rating(_ago(1900), "Inadequate", caring="Requires improvement"),
        _rating(_ago(1640), "Requires improvement", caring="Good"),
        ["risk", "staffing"],
    )
    await cases.record_rating(grace, beech, _rating(_ago(997), "Requires improvement"))
    await cases.record_rating(
        grace,
        beech,
        _rating(_ago(26), "Requires improvement", safe="Inadequate", caring="Good"),
    )
    await _assess(homes, people_, "Beech Lodge Nursing Home", 110)
    with _on(_ago(20)):
        case = await cases.open_case(grace, beech)
        await _findings(grace, case["id"], ["staffing", "medicines"])
    await _assess(homes, people_, "Beech Lodge Nursing Home", 14)

    # Oakwood Home Care: Inadequate a year ago, a plan delivered and verified, re-rated
    # Requires improvement a month ago: sustaining
    await _recovered(homes, people_)

    # Harbour View: an old journey that ended well, and a new one after a fall back,
    # with a new manager for ten months
    await _finished_journey(
        lucy,
        harbour,
        _rating(_ago(2824), "Inadequate"),
        _rating(_ago(2487), "Good"),
        ["risk", "governance"],
    )
    await cases.record_rating(
        lucy,
        harbour,
        _rating(
            _ago(166),
            "Inadequate",
            caring="Requires improvement",
            effective="Requires improvement",
        ),
    )
    with _on(_ago(160)):
        case = await cases.open_case(lucy, harbour)
        await _findings(lucy, case["id"], ["safeguarding", "staffing", "governance", "consent"])
    await _assess(homes, people_, "Harbour View", 140)
    await _plan(lucy, case["id"], people_["quality@harbour.demo"])
    await _review(
        people_["commissioner@cios-icb.demo"],
        case["id"],
        _ago(21),
        audience="commissioner",
        attendees="Kerenza Pascoe (NHS Cornwall and Isles of Scilly ICB), Lucy Trelawny",
        rag_staffing="amber",
        rag_leadership="amber",
        overall_rag="amber",
        confidence="medium",
        notes="Turnover and agency use falling since the new manager started; the plan "
        "was slow to get going.",
        decisions="Step down from suspension to provider concerns; one new placement a week.",
    )
    await _review(
        lucy,
        case["id"],
        _ago(7),
        audience="internal",
        attendees="Lucy Trelawny, Sam Jones",
        rag_leadership="green",
        rag_staffing="green",
        rag_person_centred_care="amber",
        rag_working_with_partners="amber",
        overall_rag="amber",
        confidence="medium",
        notes="Every shift now staffed from the dependency tool; supervision back on track.",
        decisions="Refer every safeguarding concern the same day; audit the log weekly.",
    )
    await _assess(homes, people_, "Harbour View", 20)

    # Supported living: Good, no case
    await cases.record_rating(people_["quality@harbour.demo"], living, _rating(_ago(479), "Good"))


# template id: (done days ago, verified days ago, what the quality lead checked)
RECOVERY_ACTIONS = {
    "working_with_partners.accept-improvement-support": (
        335,
        327,
        "Read the notes of the council's quality team visits and the ICB's "
        "medicines support sessions.",
    ),
    "working_with_partners.open-with-cqc-commissioners": (
        330,
        322,
        "Monthly updates to CQC and the council are on file, each sent on time.",
    ),
    "leadership.provider-support": (
        326,
        318,
        "The support agreement is signed and the extra care coordinator is in post.",
    ),
    "leadership.first-30-days-diagnostic": (
        318,
        310,
        "Read the diagnostic report and checked its findings against the care records.",
    ),
    "person_centred_care.consent-and-capacity": (
        300,
        292,
        "Sampled 12 files: every capacity assessment and best interest decision recorded.",
    ),
    "person_centred_care.rewrite-care-plans": (
        284,
        276,
        "Read 15 rewritten care plans with the people they belong to: all personal and "
        "up to date; reviews now booked in the rota.",
    ),
    "leadership.governance-cycle": (
        258,
        250,
        "Two monthly audit cycles complete; every action on the tracker has an owner and a date.",
    ),
    "cultural_change.learn-from-incidents": (
        240,
        232,
        "Minutes of three incident reviews show lessons shared with carers.",
    ),
    "person_centred_care.meaningful-days": (
        215,
        205,
        "Visited six people at home: their plans name what matters to them and carers knew it.",
    ),
}


async def _recovered(homes: dict[str, int], people_: dict[str, Viewer]) -> None:
    """A home care service's journey from Inadequate to Requires improvement, staged at
    the dates it happened: plan agreed and delivered, every action verified, reviews
    turning green, findings addressed, then the better rating."""
    from improve.plans import actions

    name = "Oakwood Home Care Exeter"
    service = homes[name]
    manager, checker = people_["manager@oakwood.demo"], people_["quality@oakwood.demo"]
    commissioner = people_["commissioner@devon.demo"]

    await cases.record_rating(
        manager, service, _rating(_ago(357), "Inadequate", caring="Requires improvement")
    )
    with _on(_ago(350)):
        case = await cases.open_case(manager, service)
        await _findings(manager, case["id"], ["care_plans", "consent", "governance"])
    await _assess(homes, people_, name, 340)
    with _on(_ago(345)):
        rows = await _commit_strong(manager, case["id"])
    for stage, days in (("plan_agreed", 338), ("delivering", 333)):
        with _on(_ago(days)):
            current = await cases.get_case(manager, case["id"])
            await cases.move(manager, case["id"], stage, version=current["version"])
    for n, row in enumerate(rows):
        done, verified, evidence = RECOVERY_ACTIONS.get(
            row["template_id"] or "",
            (200 - 5 * n, 195 - 5 * n, "Checked the records and spoke to people and carers."),
        )
        with _on(_ago(done)):
            row = await actions.update(
                manager,
                row["id"],
                {"status": "done", "note": "Done; evidence filed with the plan."},
                version=row["version"],
            )
        with _on(_ago(verified)):
            await actions.update(
                checker,
                row["id"],
                {"status": "verified", "evidence": evidence},
                version=row["version"],
            )
    await _review(
        manager,
        case["id"],
        _ago(280),
        audience="internal",
        attendees="Tom Evans, Priya Shah",
        rag_leadership="amber",
        rag_person_centred_care="amber",
        rag_staffing="amber",
        overall_rag="amber",
        confidence="medium",
        notes="Care plan rewrites half done; missed and late calls falling.",
        decisions="Move two carers' rounds to cut travel time in Topsham.",
    )
    await _review(
        manager,
        case["id"],
        _ago(196),
        audience="internal",
        attendees="Tom Evans, Priya Shah",
        rag_leadership="green",
        rag_person_centred_care="green",
        rag_staffing="green",
        rag_cultural_change="green",
        overall_rag="green",
        confidence="high",
        notes="Every action verified; audits have held above 80% for three months.",
        decisions="Ask CQC for a re-inspection once the next two audits hold.",
    )
    await _assess(homes, people_, name, 170)
    with _on(_ago(150)):
        for finding in await cases.findings_of(manager, case["id"]):
            await cases.update_finding(
                manager, finding["id"], {"status": "addressed"}, version=finding["version"]
            )
    with _on(_ago(120)):
        current = await cases.get_case(manager, case["id"])
        await cases.move(manager, case["id"], "awaiting_reinspection", version=current["version"])
    rerated = _ago(34)
    with _on(rerated):  # the better rating moves the case on to sustaining
        await cases.record_rating(
            manager,
            service,
            _rating(rerated, "Requires improvement", caring="Good", responsive="Good"),
        )
    await _review(
        commissioner,
        case["id"],
        _ago(25),
        audience="commissioner",
        attendees="Mark Hill (Devon County Council), Tom Evans",
        rag_leadership="green",
        rag_person_centred_care="green",
        overall_rag="green",
        confidence="high",
        notes="Re-rated Requires improvement; missed calls at 3%, below the contract's 5%.",
        decisions="Step down to enhanced monitoring; quarterly data returns.",
    )
    await _review(
        manager,
        case["id"],
        _ago(10),
        audience="internal",
        attendees="Tom Evans, Priya Shah",
        rag_leadership="green",
        rag_staffing="green",
        overall_rag="green",
        confidence="high",
        notes="Holding steady; the next step is Good in Safe, Effective and Well-led.",
        decisions="Keep the monthly audit cycle; check in at the next review.",
    )
    await _assess(homes, people_, name, 10)


# --- measures ------------------------------------------------------------------------------
#
# Each series is 24 monthly points ending last month; index 0 is 24 months ago, and the
# first 12 points are the run chart's baseline. A series is drawn from segments
# (first index, level at its start, level at its end, noise): the level runs in a
# straight line across the segment, and the noise alternates above and below it (at most
# twice on one side). Each series also says what its run chart should show: "better" (the
# latest signal is an improvement that began after the baseline), "worse" (the same,
# getting worse) or None (no shift or trend at all). Noise is redrawn, from a seeded
# generator, until the chart shows that, so every signal in the demo is one the story
# put there and the figures are the same every time.

Segment = tuple[int, float, float, float]
Design = tuple[str | None, list[Segment]]

# Oakwood House: poor for two years and worse a year ago; a new manager eight months
# ago (index 16); better from the month after in turnover, agency use, training and
# supervision; medicines errors, falls and vacancies not moved yet.
OAKWOOD_HOUSE: dict[str, Design] = {
    "staff_turnover": ("better", [(0, 34, 35, 1.2), (12, 36, 39, 0.6), (17, 33, 26, 0.2)]),
    "vacancy_rate": (None, [(0, 12, 12, 1.8)]),
    "sickness_days": (None, [(0, 8.7, 8.7, 0.4)]),
    "agency_hours_share": ("better", [(0, 17, 17, 2.4), (12, 21, 23, 1.2), (17, 14.5, 9, 0.8)]),
    "training_completion": ("better", [(0, 70, 70, 3), (12, 67, 65, 1.5), (17, 76, 92, 0.8)]),
    "supervision_completed": ("better", [(0, 48, 48, 5), (12, 44, 42, 2), (17, 52, 86, 1.5)]),
    "medication_errors": (None, [(0, 5, 5, 2)]),
    "falls": (None, [(0, 7, 7, 2.5)]),
    "safeguarding_concerns": (None, [(0, 2, 2, 1.5)]),
}
# Beech Lodge: stalling: nothing moves, except agency use, rising for eight months.
BEECH_LODGE: dict[str, Design] = {
    "staff_turnover": (None, [(0, 29, 29, 1.4)]),
    "vacancy_rate": (None, [(0, 9, 9, 1.5)]),
    "sickness_days": (None, [(0, 7.2, 7.2, 0.4)]),
    "agency_hours_share": ("worse", [(0, 11, 11, 1.8), (16, 16, 22, 0.6)]),
    "training_completion": (None, [(0, 81, 81, 3)]),
    "supervision_completed": (None, [(0, 66, 66, 6)]),
    "medication_errors": (None, [(0, 4, 4, 2)]),
    "falls": (None, [(0, 11, 11, 3)]),
}
# Oakwood Home Care Exeter: Inadequate a year ago (index 12); the plan's actions verified
# over the next five months; care plan reviews (index 16) and audit scores (index 17)
# better from the month after their actions were verified.
EXETER: dict[str, Design] = {
    "staff_turnover": ("better", [(0, 38, 39, 1.0), (14, 37, 30, 0.2)]),
    "vacancy_rate": ("better", [(0, 13, 13, 1.8), (14, 11, 8, 0.8)]),
    "sickness_days": (None, [(0, 9.0, 9.0, 0.4)]),
    "agency_hours_share": ("better", [(0, 14, 14, 2.2), (14, 10, 6, 0.8)]),
    "training_completion": ("better", [(0, 72, 72, 3), (14, 79, 94, 0.8)]),
    "supervision_completed": ("better", [(0, 58, 58, 5), (14, 65, 90, 1.5)]),
    "medication_errors": (None, [(0, 3, 3, 1.5)]),
    "missed_late_calls": ("better", [(0, 8.5, 8.5, 1.2), (15, 6, 2.6, 0.25)]),
    "care_plans_reviewed_on_time": ("better", [(0, 52, 52, 6), (16, 74, 96, 1.2)]),
    "audit_score": ("better", [(0, 56, 56, 4), (17, 70, 88, 1.5)]),
    "incidents": (None, [(0, 6, 6, 2)]),
}
# Harbour View: a new manager ten months ago (index 14), better from the month after;
# vacancies and sickness not moved yet.
HARBOUR_VIEW: dict[str, Design] = {
    "staff_turnover": ("better", [(0, 41, 42, 1.0), (12, 44, 45, 0.5), (15, 41, 29, 0.2)]),
    "vacancy_rate": (None, [(0, 15, 15, 2)]),
    "sickness_days": (None, [(0, 10.1, 10.1, 0.4)]),
    "agency_hours_share": ("better", [(0, 24, 24, 3), (12, 27, 27, 1.5), (15, 21, 12, 0.8)]),
    "training_completion": ("better", [(0, 62, 62, 3), (15, 68, 90, 0.8)]),
    "supervision_completed": ("better", [(0, 40, 40, 5), (15, 46, 85, 1.5)]),
    "medication_errors": (None, [(0, 4, 4, 2)]),
    "falls": (None, [(0, 6, 6, 2)]),
    "incidents": (None, [(0, 10, 10, 3)]),
}
# Harbour Lights Supported Living: Good and steady.
SUPPORTED_LIVING: dict[str, Design] = {
    "staff_turnover": (None, [(0, 21, 21, 1.2)]),
    "vacancy_rate": (None, [(0, 6, 6, 1.2)]),
    "sickness_days": (None, [(0, 4.6, 4.6, 0.3)]),
    "agency_hours_share": (None, [(0, 4, 4, 1.5)]),
    "training_completion": (None, [(0, 93, 93, 2)]),
    "supervision_completed": (None, [(0, 88, 88, 4)]),
    "medication_errors": (None, [(0, 1, 1, 1)]),
    "missed_late_calls": (None, [(0, 1.8, 1.8, 0.6)]),
}
SERIES = {
    "Oakwood House": OAKWOOD_HOUSE,
    "Beech Lodge Nursing Home": BEECH_LODGE,
    "Oakwood Home Care Exeter": EXETER,
    "Harbour View": HARBOUR_VIEW,
    "Harbour Lights Supported Living": SUPPORTED_LIVING,
}
MONTHS = 24
BASELINE = 12
DRAWS = 200  # redraws allowed before a series is kept as it is


def draw(segments: list[Segment], unit: str, rng: random.Random) -> list[float]:
    """24 monthly values from the segments: percentages 0-100 to one decimal, counts
    whole and never below zero, other figures to one decimal."""
    values, side, same = [], rng.choice((-1, 1)), 0
    for i in range(MONTHS):
        start, first, last, noise = max(s for s in segments if s[0] <= i)
        following = [s[0] for s in segments if s[0] > i]
        end = (following[0] if following else MONTHS) - 1
        level = first + (last - first) * ((i - start) / (end - start) if end > start else 0)
        if same >= 1 or rng.random() < 0.7:  # mostly alternate; never three on one side
            side, same = -side, 0
        else:
            same += 1
        if unit == "":  # counts: sometimes on the level itself, sometimes two away
            value = level + side * noise * rng.uniform(0.1, 1.4)
            values.append(float(max(0, round(value))))
        else:
            value = level + side * noise * rng.uniform(0.4, 1.0)
            high = 100.0 if unit == "%" else float("inf")
            values.append(min(high, max(0.0, round(value, 1))))
    return values


def shows(chart, design: Design) -> bool:
    """Does the run chart show what the story wants? A wanted change shows in the latest
    signals, which begin no earlier than the month before the last segment starts."""
    want, segments = design
    if want is None:
        return not chart.signals
    latest = [s for s in chart.signals if s.end_index == MONTHS - 1]
    return bool(latest) and all(
        s.improving is (want == "better") and s.start_index >= segments[-1][0] - 1 for s in latest
    )


def series(key: str, design: Design, months: list[dt.date], rng: random.Random) -> list[float]:
    from improve.measures import catalog
    from improve.measures import domain as measures

    measure = catalog.BY_KEY[key]
    for _ in range(DRAWS):
        values = draw(design[1], measure.unit, rng)
        if shows(measures.chart(list(zip(months, values, strict=True)), measure), design):
            break
    return values


def months_back(count: int) -> list[dt.date]:
    """The first days of the ``count`` months before this one, oldest first."""
    first = clock.today().replace(day=1)
    out = []
    for back in range(count, 0, -1):
        year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
        out.append(dt.date(year, month + 1, 1))
    return out


async def _measures(homes: dict[str, int], people_: dict[str, Viewer]) -> None:
    """Two years of monthly figures for every home, one bulk write per home."""
    from improve.measures import catalog
    from improve.measures import domain as measures

    leads = {
        "Oakwood Care Group": people_["quality@oakwood.demo"],
        "Harbour Lights Care": people_["quality@harbour.demo"],
    }
    months = months_back(MONTHS)
    rng = random.Random(2026)  # the same figures every time
    for name, provider, kind, *_ in SERVICES:
        rows = []
        for key, design in SERIES[name].items():
            if not catalog.applies_to(catalog.BY_KEY[key], kind):
                raise ValueError(f"{key} is not a measure of {name}")
            values = series(key, design, months, rng)
            rows += [(homes[name], key, m, v) for m, v in zip(months, values, strict=True)]
        await measures._upsert(rows, leads[provider], "demo")


# --- commissioners' monitoring -----------------------------------------------------------------

# commissioner, home, level, review in days (None: the level's own interval), note
LEVELS = [
    (
        "commissioner@devon.demo",
        "Oakwood House",
        "Placements suspended",
        10,
        "Kept at suspension at the commissioner review: care plans still generic. "
        "Reconsider once the warning notice is met.",
    ),
    (
        "commissioner@devon.demo",
        "Beech Lodge Nursing Home",
        "Provider concerns",
        18,
        "Inadequate in Safe; our quality audit found heavy agency use at night. "
        "Action plan due within 14 days of the audit.",
    ),
    (
        "commissioner@devon.demo",
        "Oakwood Home Care Exeter",
        "Enhanced monitoring",
        40,
        "Stepped down from provider concerns after the Requires improvement rating. "
        "Quarterly data returns.",
    ),
    (
        "commissioner@devon.demo",
        "Harbour Lights Supported Living",
        "Routine",
        None,
        "Annual contract review.",
    ),
    (
        "commissioner@cios-icb.demo",
        "Harbour View",
        "Provider concerns",
        14,
        "Stepped down from suspension: one new placement a week while turnover and "
        "agency use keep falling.",
    ),
    (
        "commissioner@cios-icb.demo",
        "Harbour Lights Supported Living",
        "Routine",
        60,
        "Continuing healthcare packages reviewed every quarter.",
    ),
]
# earlier levels, staged: commissioner, home, days ago, level
EARLIER_LEVELS = [
    ("commissioner@devon.demo", "Oakwood House", 300, "Enhanced monitoring"),
    ("commissioner@devon.demo", "Oakwood House", 80, "Placements suspended"),
    ("commissioner@devon.demo", "Oakwood Home Care Exeter", 355, "Provider concerns"),
    ("commissioner@devon.demo", "Beech Lodge Nursing Home", 400, "Routine"),
    ("commissioner@devon.demo", "Harbour Lights Supported Living", 400, "Routine"),
    ("commissioner@cios-icb.demo", "Harbour View", 164, "Placements suspended"),
]


async def _monitoring(homes: dict[str, int], people_: dict[str, Viewer]) -> None:
    """Each commissioner's levels, the level of each home they commission (escalated and
    stepped down over the year), and two visits of Devon's."""
    from improve.monitoring import domain as monitoring

    commissioners = ("commissioner@devon.demo", "commissioner@cios-icb.demo")
    with _on(_ago(420)):
        for email in commissioners:
            await monitoring.add_default_levels(people_[email])
    ids = {}
    for email in commissioners:
        viewer = people_[email]
        ids[email] = {
            r["name"]: r["id"] for r in await monitoring.levels_of(viewer.organisation_id)
        }
    for email, home, days, level in sorted(EARLIER_LEVELS, key=lambda r: -r[2]):
        with _on(_ago(days)):
            await monitoring.set_level(
                people_[email], homes[home], {"level": ids[email][level], "review_on": ""}
            )
    for email, home, level, review_in, note in LEVELS:
        await monitoring.set_level(
            people_[email],
            homes[home],
            {
                "level": ids[email][level],
                "review_on": _ago(-review_in) if review_in is not None else "",
                "note": note,
            },
        )
    devon = people_["commissioner@devon.demo"]
    visit_on = _ago(9)
    with _on(visit_on):
        await monitoring.record_visit(
            devon,
            homes["Beech Lodge Nursing Home"],
            {
                "visited_on": visit_on,
                "kind": "quality_audit",
                "outcome": "requires_improvement",
                "summary": "Unannounced quality audit over a day and an evening, with the "
                "nurse in charge. Staff were kind and knew people well, but a fifth of "
                "nursing hours were worked by agency nurses, several with no induction "
                "record, and pressure care charts had gaps at night.",
                "findings": [
                    {
                        "regulation": "18",
                        "key_question": "safe",
                        "items": ["safe.safe_staffing"],
                        "description": "Agency nurses covered most night shifts; four of "
                        "the six on the rota that week had no induction to the home.",
                    },
                    {
                        "regulation": "12",
                        "key_question": "safe",
                        "items": ["safe.involving_people_risks"],
                        "description": "Repositioning charts for three people at risk of "
                        "pressure ulcers had gaps of up to eight hours overnight.",
                    },
                    {
                        "regulation": "17",
                        "key_question": "well_led",
                        "items": ["well_led.governance"],
                        "description": "The dependency tool had not been updated for six "
                        "months, so staffing did not follow people's needs.",
                    },
                ],
            },
        )
    visit_on = _ago(48)
    with _on(visit_on):
        await monitoring.record_visit(
            devon,
            homes["Harbour Lights Supported Living"],
            {
                "visited_on": visit_on,
                "kind": "monitoring_visit",
                "outcome": "good",
                "summary": "Met four tenants and two families: support is consistent and "
                "tenants choose who supports them. No concerns.",
            },
        )


# --- self-assessments ----------------------------------------------------------------------------

# Scores of each key question's quality statements, in the framework's order:
# safe 8, effective 6, caring 5, responsive 7, well-led 8.
# home, manager's email, days ago, {key question: scores}, notes {statement: text}
ASSESSMENTS = [
    (
        "Oakwood House",
        "manager@oakwood.demo",
        170,
        {
            "safe": "11212112",
            "effective": "221222",
            "caring": "33232",
            "responsive": "2212222",
            "well_led": "11212121",
        },
        {
            "safe.medicines": "Gaps on MAR charts most days; no protocols for 'as required' "
            "medicines.",
            "safe.safe_staffing": "Nights often one carer short; agency staff without induction.",
            "well_led.governance": "Audits done but not acted on; no action tracker.",
            "well_led.capable_leaders": "New manager started this month; no deputy.",
        },
    ),
    (
        "Oakwood House",
        "manager@oakwood.demo",
        75,
        {
            "safe": "22222212",
            "effective": "222223",
            "caring": "33333",
            "responsive": "2222222",
            "well_led": "11212122",
        },
        {
            "safe.medicines": "Weekly medicines audits started; still gaps at weekends.",
            "safe.safe_staffing": "Night rota filled from the dependency tool; agency down "
            "to a third of what it was.",
            "well_led.governance": "Warning notice received; action tracker set up but not "
            "yet reviewed monthly.",
            "caring.kindness_dignity": "Families' survey: kind, patient staff.",
        },
    ),
    (
        "Oakwood House",
        "manager@oakwood.demo",
        6,
        {
            "safe": "33333331",
            "effective": "323333",
            "caring": "33433",
            "responsive": "2323322",
            "well_led": "22323232",
        },
        {
            "safe.medicines": "Two omissions of time-critical medicines last week: still "
            "significant shortfalls, whatever the rest of Safe shows.",
            "safe.safe_staffing": "Every shift staffed to the tool for 8 weeks; agency under 10%.",
            "safe.safeguarding": "All concerns referred the same day since the training.",
            "responsive.person_centred_care": "A third of care plans rewritten with people "
            "and families.",
            "well_led.governance": "Monthly audit cycle running; tracker reviewed at the "
            "governance meeting.",
        },
    ),
    (
        "Harbour View",
        "manager@harbour.demo",
        140,
        {
            "safe": "12112121",
            "effective": "212122",
            "caring": "22322",
            "responsive": "2122121",
            "well_led": "11121112",
        },
        {
            "safe.safeguarding": "Two allegations last quarter not referred to the council.",
            "safe.safe_staffing": "Agency staff on most nights; no dependency tool.",
            "well_led.governance": "No audits since the last manager left.",
        },
    ),
    (
        "Harbour View",
        "manager@harbour.demo",
        20,
        {
            "safe": "22232222",
            "effective": "222322",
            "caring": "33332",
            "responsive": "2232222",
            "well_led": "22222122",
        },
        {
            "safe.safeguarding": "Every concern referred and logged; staff trained.",
            "safe.safe_staffing": "Dependency tool in use; agency share halved in six months.",
            "effective.consent": "Capacity assessments started; a third done.",
            "well_led.governance": "Audit cycle started; the tracker is not yet complete.",
        },
    ),
    (
        "Beech Lodge Nursing Home",
        "deputy.manager@oakwood.demo",
        110,
        {
            "safe": "22222121",
            "effective": "333323",
            "caring": "33333",
            "responsive": "3233323",
            "well_led": "22322232",
        },
        {
            "safe.safe_staffing": "Two nurse vacancies; nights covered by agency.",
            "safe.medicines": "Controlled drugs book errors found in our audit.",
        },
    ),
    (
        "Beech Lodge Nursing Home",
        "deputy.manager@oakwood.demo",
        14,
        {
            "safe": "22212121",
            "effective": "333323",
            "caring": "33333",
            "responsive": "3233323",
            "well_led": "22322222",
        },
        {
            "safe.safe_staffing": "Agency share still rising: four nurse vacancies now.",
            "safe.medicines": "Controlled drugs errors again last month.",
            "well_led.governance": "Dependency tool not updated for six months.",
        },
    ),
    (
        "Oakwood Home Care Exeter",
        "manager@oakwood.demo",
        340,
        {
            "safe": "22222222",
            "effective": "211221",
            "caring": "22222",
            "responsive": "1211212",
            "well_led": "11212112",
        },
        {
            "effective.consent": "No capacity assessments on file for people living with dementia.",
            "responsive.person_centred_care": "Care plans are task lists; nothing about the "
            "person.",
            "responsive.continuity": "One call in eleven missed or more than 30 minutes late.",
            "well_led.governance": "No audits; the office did not know calls were late.",
        },
    ),
    (
        "Oakwood Home Care Exeter",
        "manager@oakwood.demo",
        170,
        {
            "safe": "23232322",
            "effective": "222322",
            "caring": "33333",
            "responsive": "2322322",
            "well_led": "22232222",
        },
        {
            "effective.consent": "Every capacity assessment done and recorded.",
            "responsive.person_centred_care": "All care plans rewritten with people.",
            "responsive.continuity": "Missed or late calls down to one in twenty.",
            "well_led.governance": "Monthly audits for four months; actions closed on time.",
        },
    ),
    (
        "Oakwood Home Care Exeter",
        "manager@oakwood.demo",
        10,
        {
            "safe": "33333333",
            "effective": "333233",
            "caring": "34333",
            "responsive": "3333323",
            "well_led": "32333323",
        },
        {
            "responsive.continuity": "Missed or late calls under 3% for six months.",
            "caring.individuals": "People told the inspector carers know them well.",
            "well_led.governance": "Audit scores above 85% for four months.",
        },
    ),
]
GENERIC_EVIDENCE = {
    1: "Significant shortfalls in our own audit this month; actions are in the plan.",
    2: "Some shortfalls: better than last time, not yet consistent on every shift.",
    3: "Good standard in audits, observation and what people and families told us.",
    4: "Exceptional: people and families say so, and the audits back it up.",
}


def assessment_form(assessed_on: dt.date, scores: dict[str, str], notes: dict[str, str]):
    """The self-assessment form's fields: every quality statement scored, with a note."""
    from improve import framework

    fw = framework.get("saf")
    data: dict[str, str] = {"assessed_on": assessed_on.isoformat()}
    for kq, digits in scores.items():
        statements = [i.id for i in fw.items.values() if i.key_question == kq]
        if len(statements) != len(digits):
            raise ValueError(f"{kq} has {len(statements)} quality statements, not {len(digits)}")
        for statement, digit in zip(statements, digits, strict=True):
            data[f"score.{statement}"] = digit
            data[f"evidence.{statement}"] = notes.get(statement) or GENERIC_EVIDENCE[int(digit)]
    return data


async def _assess(homes: dict[str, int], people_: dict[str, Viewer], home: str, days: int):
    """The manager's self-assessment of ``days`` ago, recorded on that day (so it knows
    whether a breach of regulations was open then, and which case it belongs to)."""
    from improve.assessments import domain as assessments

    for name, email, ago, scores, notes in ASSESSMENTS:
        if (name, ago) == (home, days):
            assessed_on = _ago(days)
            with _on(assessed_on):
                return await assessments.record(
                    people_[email], homes[home], assessment_form(assessed_on, scores, notes)
                )
    raise ValueError(f"no demo self-assessment of {home} {days} days ago")


async def prepare() -> list[tuple[str, str]]:
    await db.migrate()
    await db.prepare(1)
    try:
        return await load()
    finally:
        await db.release()
