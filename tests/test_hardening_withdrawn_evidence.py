"""What was withdrawn stays withdrawn: a resident's name, NHS number and date of birth
planted in evidence (a note, a link, a file's name and content) and then withdrawn are
found nowhere afterwards, by anyone who can see the case: not on any page or API route,
not in the activity CSV, the case file ZIP (every member, decompressed), notifications or
emails, and not in any table of the database (the history keeps a marker in their place,
with who withdrew it, when and why)."""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
import string
import zipfile
from pathlib import Path

import pytest
from conftest import api_token, http_client, log_in, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.cases.tables import AuditEvent
from improve.evidence import domain as evidence
from improve.plans import domain as plans
from improve.reminders import calendar
from improve.reviews import domain as reviews

NOW = dt.datetime(2026, 6, 10, 9, tzinfo=dt.UTC)
REASON = "A resident's details were in it"


class Resident:
    """A fake resident of this test alone (other tests' rows share the database): the
    name, NHS number and date of birth in the forms people write them."""

    def __init__(self) -> None:
        self.surname = "Quellbrook" + "".join(
            secrets.choice(string.ascii_lowercase) for _ in range(6)
        )
        digits = f"{secrets.randbelow(10**10):010d}"
        a, b, c = digits[:3], digits[3:6], digits[6:]
        day, month, year = (
            1 + secrets.randbelow(28),
            1 + secrets.randbelow(12),
            1920 + secrets.randbelow(20),
        )
        self.needles = (
            self.surname,
            f"{a} {b} {c}",
            digits,
            f"{a}-{b}-{c}",
            f"{day:02d}/{month:02d}/{year}",
            f"{year}-{month:02d}-{day:02d}",
            f"{day:02d}-{month:02d}-{year}",
        )
        name, spaced, plain, dashed, slashed, iso, dmy = self.needles
        self.note = f"Marjorie {name} (NHS {spaced}, born {slashed}) refused her medicines"
        self.link = f"https://records.example.org/residents/{name}?nhs={plain}&dob={iso}"
        self.file_name = f"Marjorie {name} {dashed} {dmy}.txt"
        self.content = (
            f"Resident: Marjorie {name}\nNHS number: {spaced}\nBorn: {slashed}\n".encode()
        )

    def leaks(self, text: str) -> list[str]:
        low = text.lower()
        return [n for n in self.needles if n.lower() in low]

    def found(self, texts: dict[str, str]) -> dict[str, list[str]]:
        return {where: found for where, text in texts.items() if (found := self.leaks(text))}


def zip_texts(data: bytes) -> dict[str, str]:
    """Every member of a ZIP, decompressed, and its name."""
    out = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            out[f"[name] {name}"] = name
            out[name] = zf.read(name).decode("utf-8", "replace")
    return out


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    council = await world.org(OrgKind.COMMISSIONER)
    commissioner = await world.user(council, Role.COMMISSIONER)
    admin = await world.admin()
    service = await world.service(provider, manager, (council,))
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await cases.record_rating(
            me, service["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, service["id"])
        finding = await cases.add_finding(
            me,
            case["id"],
            {"regulation": "12", "key_question": "safe", "description": "Gaps in MAR charts"},
        )
        rows = await plans.commit(
            me,
            case["id"],
            [],
            [
                {
                    "title": "Audit MAR charts",
                    "theme": "person_centred_care",
                    "due_on": "2026-06-15",
                    "finding_ids": [finding["id"]],
                    "owner": manager["id"],
                }
            ],
        )
        review = await reviews.record(
            me,
            case["id"],
            {
                "audience": "internal",
                "held_on": "2026-06-09",
                "overall_rag": "amber",
                "confidence": "medium",
                "notes": "Audits started",
                "attendees": "Mo, Lee",
            },
        )
        action_id = rows[0]["id"]
        who = Resident()
        planted = [
            await evidence.add(me, action_id=action_id, text=who.note),
            await evidence.add(me, finding_id=finding["id"], url=who.link, text=who.note),
            await evidence.add(
                me, action_id=action_id, file_name=who.file_name, content=who.content, text=who.note
            ),
        ]
    return {
        "people": {
            "manager": manager,
            "quality_lead": lead,
            "commissioner": commissioner,
            "admin": admin,
        },
        "me": me,
        "case": case,
        "service": service,
        "finding": finding,
        "action_id": action_id,
        "review": review,
        "planted": planted,
        "resident": who,
    }


def _ids(scene) -> dict[str, list]:
    return {
        "case_id": [scene["case"]["id"]],
        "service_id": [scene["service"]["id"]],
        "action_id": [scene["action_id"]],
        "finding_id": [scene["finding"]["id"]],
        "review_id": [scene["review"]["id"]],
        "evidence_id": [e["id"] for e in scene["planted"]],
    }


# query strings that show more of a page or list than its default
EXTRA = {
    "/cases/{case_id:int}/activity": ["?entity=evidence", "?entity=action", "?entity=finding"],
    "/api/v1/cases/{case_id:int}/history": ["?limit=200", "?entity=evidence&limit=200"],
}


def _urls(app, ids: dict[str, list], feed: str) -> list[str]:
    """Every GET route of the app whose placeholders this case fills, with each value."""
    urls = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()):
            continue
        names = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
        if any(n not in ids and n != "feed" for n in names):
            continue  # a static file, a reset token, another organisation's record
        variants = [route.path]
        for n in names:
            values = [feed] if n == "feed" else ids[n]
            variants = [
                re.sub(r"\{" + n + r"(?::\w+)?\}", str(v), path)
                for path in variants
                for v in values
            ]
        for url in variants:
            urls.append(url)
            urls += [url + q for q in EXTRA.get(route.path, [])]
    return urls


async def _everything(app, user: dict, ids: dict[str, list]) -> dict[str, str]:
    """Every response this person gets from every route of the case, as text; ZIPs
    decompressed member by member."""
    token = await api_token(user)
    feed = await calendar.feed_token_for(user["id"])
    seen: dict[str, str] = {}
    async with http_client(app) as client:
        await log_in(client, user)
        for url in _urls(app, ids, feed):
            headers = {"Authorization": f"Bearer {token}"} if url.startswith("/api/") else {}
            response = await client.get(url, headers=headers)
            assert response.status_code < 500, (url, response.status_code)
            seen[f"{url} (headers)"] = str(response.headers)
            if response.content.startswith(b"PK\x03\x04"):
                for name, text in zip_texts(response.content).items():
                    seen[f"{url} » {name}"] = text
            else:
                seen[url] = response.content.decode("utf-8", "replace")
    return seen


async def _tables() -> dict[str, str]:
    """Every row of every table of the database, as text."""
    if AuditEvent._meta.db.engine_type == "sqlite":
        names = [
            r["name"]
            for r in await AuditEvent.raw(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
    else:
        names = [
            r["table_name"]
            for r in await AuditEvent.raw(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ]
    # the names come from the database's own catalogue
    return {name: str(await AuditEvent.raw(f'SELECT * FROM "{name}"')) for name in names}  # noqa: S608


async def test_the_planted_details_show_before_withdrawal(app, scene):
    """The search below finds what it looks for (so its silence after withdrawal means
    something): before withdrawal the details are on the activity page, its CSV, the API
    and the case file."""
    seen = await _everything(app, scene["people"]["commissioner"], _ids(scene))
    case_id = scene["case"]["id"]
    found = scene["resident"].found(seen)
    for where in (
        f"/cases/{case_id}/activity",
        f"/cases/{case_id}/activity.csv",
        f"/api/v1/cases/{case_id}/history",
        f"/cases/{case_id}/casefile.zip » history.csv",
        f"/cases/{case_id}/casefile.zip » evidence.csv",
        f"/api/v1/actions/{scene['action_id']}/evidence",
    ):
        assert where in found, where


async def test_withdrawn_details_are_gone_from_everywhere(app, scene, smtp):
    me = scene["me"]
    # every page seen once before: a page kept from then (improve.snapshots) must not
    # be served afterwards
    assert scene["resident"].found(await _everything(app, scene["people"]["manager"], _ids(scene)))
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        for item in scene["planted"]:
            await evidence.withdraw(me, item["id"], REASON)
    # reminders and their emails for this case (the action is due in 5 days)
    from jobs import run_once

    await run_once("reminders", NOW + dt.timedelta(days=1))
    while (await run_once("deliver", NOW + dt.timedelta(days=1)))["sent"]:
        pass

    who, ids = scene["resident"], _ids(scene)
    for role, user in scene["people"].items():
        seen = await _everything(app, user, ids)
        assert who.found(seen) == {}, role
    assert [m["Subject"] for m in smtp.messages if who.leaks(m.as_string())] == []
    assert who.found(await _tables()) == {}
    assert _stored_with(who) == []


def _stored_with(who: Resident) -> list[str]:
    """Files in evidence storage that hold any of the resident's details."""
    stored = [p for p in Path(evidence.upload_dir()).iterdir() if p.is_file()]
    return [p.name for p in stored if who.leaks(p.read_bytes().decode("utf-8", "replace"))]


async def test_the_history_keeps_who_when_and_why_with_a_marker(app, scene):
    me, case_id = scene["me"], scene["case"]["id"]
    note, link, file = scene["planted"]
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        await evidence.withdraw(me, file["id"], REASON)
    events = await (
        AuditEvent.select()
        .where((AuditEvent.entity == "evidence") & (AuditEvent.entity_id == file["id"]))
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )
    added, withdrawn = events
    # the upload's line: who added it and when stay, the texts are replaced by the marker
    assert added["action"] == "added" and added["actor_name"] == me.name
    assert added["at"] == NOW
    assert added["summary"] == "Evidence on Audit MAR charts: [withdrawn]"
    assert added["after"]["file_name"] == "[withdrawn]"
    assert added["after"]["text"] == "[withdrawn]"
    assert added["after"]["kind"] == "file"
    assert added["after"]["size"] == len(scene["resident"].content)
    # the withdrawal's line: who, when, why, and which earlier lines it redacted
    assert withdrawn["action"] == "withdrawn" and withdrawn["actor_name"] == me.name
    assert withdrawn["at"] == NOW + dt.timedelta(hours=1)
    assert withdrawn["after"] == {"reason": REASON, "redacted_events": [added["id"]]}
    # the other evidence is untouched until it is withdrawn itself
    others = await (
        AuditEvent.select(AuditEvent.after)
        .where(AuditEvent.entity_id.is_in([note["id"], link["id"]]))
        .where(AuditEvent.entity == "evidence")
        .output(load_json=True)
    )
    assert {o["after"]["text"] for o in others} == {scene["resident"].note}
    # the activity page says it in words
    async with http_client(app) as client:
        await log_in(client, scene["people"]["manager"])
        page = (await client.get(f"/cases/{case_id}/activity?entity=evidence")).text
    assert "Evidence on Audit MAR charts: [withdrawn]" in page
    assert "Removed from the history" in page
    assert "its note, link and file name (1 earlier entry)" in page
    assert REASON.replace("'", "&#39;") in page


async def _events(evidence_id: int) -> list[dict]:
    return await (
        AuditEvent.select()
        .where((AuditEvent.entity == "evidence") & (AuditEvent.entity_id == evidence_id))
        .order_by(AuditEvent.id)
        .output(load_json=True)
    )


async def _refused(event_id: int, values: dict) -> None:
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.update(values).where(AuditEvent.id == event_id)


async def test_the_database_allows_the_redaction_and_nothing_else(scene):
    """The triggers' one exception is narrow: only a withdrawn item's 'added' event, only
    its texts, only to the marker, only once the withdrawal is logged; never a delete."""
    me = scene["me"]
    note, link, file = scene["planted"]
    (added,) = await _events(file["id"])
    redacted = {**added["after"], "file_name": "[withdrawn]", "text": "[withdrawn]"}
    # before the evidence is withdrawn, its history is as fixed as any other
    await _refused(added["id"], {AuditEvent.after: redacted})
    await _refused(added["id"], {AuditEvent.summary: "Evidence on Audit MAR charts: [withdrawn]"})
    with clock.frozen(NOW + dt.timedelta(hours=1)):
        await evidence.withdraw(me, file["id"], REASON)
    added, withdrawn = await _events(file["id"])
    changes = [
        {AuditEvent.actor_name: "Someone else"},
        {AuditEvent.at: NOW + dt.timedelta(days=1)},
        {AuditEvent.action: "changed"},
        {AuditEvent.summary: "Nothing was added"},
        {AuditEvent.summary: added["summary"] + " and more"},
        {AuditEvent.after: {**added["after"], "text": "Something else"}},
        {AuditEvent.after: {**added["after"], "size": 1}},
        {AuditEvent.after: {**added["after"], "extra": "[withdrawn]"}},
        {AuditEvent.after: {k: v for k, v in added["after"].items() if k != "sha256"}},
        {AuditEvent.before: {"text": "x"}},
    ]
    for values in changes:
        await _refused(added["id"], values)
    # the withdrawal's own line (who, when, why) cannot be changed either
    await _refused(withdrawn["id"], {AuditEvent.after: {"reason": "[withdrawn]"}})
    await _refused(withdrawn["id"], {AuditEvent.summary: "[withdrawn]"})
    # nor can another item's texts be redacted while it is not withdrawn
    (note_added,) = await _events(note["id"])
    await _refused(
        note_added["id"], {AuditEvent.after: {**note_added["after"], "text": "[withdrawn]"}}
    )
    # nothing is ever deleted
    with pytest.raises(Exception, match="append-only"):
        await AuditEvent.delete().where(AuditEvent.id == added["id"])
    assert await _events(file["id"]) == [added, withdrawn]
    # redacting again changes nothing and is allowed (the marker stays the marker)
    await AuditEvent.update({AuditEvent.after: added["after"]}).where(AuditEvent.id == added["id"])


async def test_a_refused_withdrawal_redacts_nothing(scene, monkeypatch):
    """The redaction and the withdrawal are one transaction: if the history cannot be
    written, the evidence stays as it was, texts, file and all."""
    from improve import history

    note, link, file = scene["planted"]

    async def broken(**_):
        raise RuntimeError("history store failed")

    monkeypatch.setattr(history, "record", broken)
    with pytest.raises(RuntimeError):
        await evidence.withdraw(scene["me"], file["id"], REASON)
    (added,) = await _events(file["id"])
    assert added["after"]["file_name"] == scene["resident"].file_name
    row = await evidence.get(scene["me"], file["id"])
    assert row["withdrawn_at"] is None and row["file_name"] == scene["resident"].file_name
    path, _ = await evidence.file_for_download(scene["me"], file["id"])
    assert path.read_bytes() == scene["resident"].content


async def test_evidence_withdrawn_before_the_upgrade_is_redacted_by_the_migration(scene):
    """Evidence withdrawn by the code before this rule (its row emptied, its withdrawal
    logged, its history left as it was) is redacted by the migration, which logs it."""
    import importlib

    from improve import history
    from improve.db import write_tx
    from improve.evidence.tables import Evidence

    migration = importlib.import_module(
        "improve.evidence.piccolo_migrations.evidence_2026_12_04t15_00_00_000000"
    )
    me, who = scene["me"], scene["resident"]
    note, link, file = scene["planted"]
    async with write_tx():  # as the withdrawal was written until now
        for item in (link, file):
            await Evidence.update(
                {
                    Evidence.withdrawn_at: NOW,
                    Evidence.withdrawn_by_name: me.name,
                    Evidence.withdrawn_reason: REASON,
                    Evidence.text: "",
                    Evidence.url: "",
                    Evidence.file_name: "",
                    Evidence.stored_name: "",
                }
            ).where(Evidence.id == item["id"])
            await history.record(
                actor=me,
                service_id=scene["service"]["id"],
                case_id=scene["case"]["id"],
                entity="evidence",
                entity_id=item["id"],
                action="withdrawn",
                summary=f"Evidence withdrawn: {REASON}",
                after={"reason": REASON},
            )
    assert who.found({"history": str(await _events(file["id"]))})
    assert await migration.redact_earlier_withdrawals() == 2
    for item in (link, file):
        added, withdrawn, redacted = await _events(item["id"])
        assert who.found({"history": str([added, withdrawn, redacted])}) == {}
        assert added["after"]["text"] == "[withdrawn]" and added["summary"].endswith(
            ": [withdrawn]"
        )
        assert redacted["action"] == "redacted" and redacted["actor_name"] == "improve migrate"
        assert redacted["after"] == {"redacted_events": [added["id"]]}
    (still,) = await _events(note["id"])  # not withdrawn: untouched
    assert still["after"]["text"] == who.note
    assert await migration.redact_earlier_withdrawals() == 0
