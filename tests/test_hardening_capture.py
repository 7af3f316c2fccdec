"""Organisations' services cannot be captured through CQC ids.

Only the administrator binds a CQC provider id to an organisation or a CQC location to a
service; providers' own imports (quality leads, managers: page, API) only update the
locations already theirs; a conflicting record is refused naming who holds it, writing
nothing; the administrator's import under the right provider moves a location from a
wrong holder, and the move is in the history.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path

from conftest import TEST_DATABASE_URL, api_token, csrf_token, log_in, viewer_of
from test_cli import improve

from improve.accounts.tables import Organisation, OrgKind, Role
from improve.cases.tables import AuditEvent
from improve.services import cqc, importer
from improve.services.tables import Rating, Service

DATA = Path(__file__).parent / "data"
RECORD = json.loads((DATA / "cqc_location_inadequate.json").read_text())


def cqc_id() -> str:
    """A location or provider id nobody else's test uses."""
    return "1-" + str(10**9 + secrets.randbelow(9 * 10**9))


def record(location_id: str, provider_id: str, provider_name: str = "", name: str = "") -> dict:
    data = copy.deepcopy(RECORD)
    data["locationId"], data["providerId"] = location_id, provider_id
    data["providerName"] = provider_name or "Nobody Of This Name Ltd"
    data["name"] = name or f"Home {location_id}"
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _located_service(world, provider: dict, manager: dict | None = None) -> dict:
    """A service the administrator has linked to a CQC location of its own."""
    service = await world.service(provider, manager)
    location = cqc_id()
    await Service.update({Service.cqc_location_id: location}).where(Service.id == service["id"])
    return {**service, "cqc_location_id": location}


async def _bind(org: dict, provider_id: str) -> None:
    await Organisation.update({Organisation.cqc_provider_id: provider_id}).where(
        Organisation.id == org["id"]
    )


async def _service(service_id: int) -> dict:
    return await Service.select().where(Service.id == service_id).first()


async def _state(*service_ids: int) -> tuple:
    """Everything an import could change, to show that nothing was written."""
    services = (
        await Service.select().where(Service.id.is_in(list(service_ids))).order_by(Service.id)
        if service_ids
        else []
    )
    return (
        services,
        await Service.count(),
        await Rating.count(),
        await AuditEvent.count(),
        await Organisation.select().order_by(Organisation.id),
    )


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json().get("errors", [])}


# --- binding a CQC provider id to an organisation -------------------------------------------


async def test_a_manager_cannot_file_another_providers_new_home_under_their_own(client, world):
    """The reported attack: a manager puts another provider's public CQC provider id on
    their service; the administrator's "match automatically" then filed that provider's
    new home under the manager's organisation."""
    victim = await world.org(OrgKind.PROVIDER, "Victim Homes")
    attacker = await world.org(OrgKind.PROVIDER, "Attacker Care")
    manager = await world.user(attacker, Role.REGISTERED_MANAGER)
    own = await _located_service(world, attacker, manager)
    victim_provider = cqc_id()
    auth = bearer(await api_token(manager))

    forged = record(own["cqc_location_id"], victim_provider, victim["name"], name="Own Home")
    answer = await client.post(
        f"/api/v1/services/{own['id']}/cqc-record", headers=auth, json=forged
    )
    assert answer.status_code in (200, 201), answer.text  # its own location: updated
    # ... but the provider id is not the manager's to set: nothing binds it to them
    assert (await _service(own["id"]))["cqc_provider_id"] == ""
    org = await Organisation.select().where(Organisation.id == attacker["id"]).first()
    assert org["cqc_provider_id"] is None

    admin = viewer_of(await world.admin())
    new_home = record(cqc_id(), victim_provider, victim["name"], name="Victim New Home")
    report = await importer.import_locations(admin, cqc.parse_locations(new_home))
    assert report.created == ["Victim New Home"]
    created = await _service(report.service_ids[0])
    assert created["provider"] == victim["id"]  # matched by name, not by the forged id
    # the administrator's import bound the victim to its CQC provider id
    org = await Organisation.select().where(Organisation.id == victim["id"]).first()
    assert org["cqc_provider_id"] == victim_provider

    # once bound, a manager's record naming that provider is refused, naming who holds it
    before = await _state(own["id"])
    refused = await client.post(
        f"/api/v1/services/{own['id']}/cqc-record", headers=auth, json=forged
    )
    assert refused.status_code == 409, refused.text
    assert victim["name"] in _fields(refused)["providerId"]
    assert await _state(own["id"]) == before


async def test_only_the_administrator_binds_a_cqc_provider_id_to_an_organisation(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    other = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    taken, mine = cqc_id(), cqc_id()
    await _bind(other, taken)

    # not through the service: the API has no such field, and says which
    refused = await client.patch(
        f"/api/v1/services/{service['id']}",
        headers=bearer(await api_token(manager)),
        json={"cqc_provider_id": taken},
    )
    assert refused.status_code == 400 and "cqc_provider_id" in refused.text
    # nor through the organisation's page (administrators only)
    await log_in(client, lead)
    token = await csrf_token(client)
    page = await client.post(
        f"/admin/organisations/{provider['id']}",
        data={"_csrf_token": token, "name": provider["name"], "cqc_provider_id": mine},
    )
    assert page.status_code == 403
    assert (await Organisation.select().where(Organisation.id == provider["id"]).first())[
        "cqc_provider_id"
    ] is None

    admin = await world.admin()
    client.cookies.clear()
    await log_in(client, admin)
    token = await csrf_token(client)
    url = f"/admin/organisations/{provider['id']}"
    bad = await client.post(
        url, data={"_csrf_token": token, "name": provider["name"], "cqc_provider_id": "12"}
    )
    assert bad.status_code == 400 and "not a CQC provider id" in bad.text
    clash = await client.post(
        url, data={"_csrf_token": token, "name": provider["name"], "cqc_provider_id": taken}
    )
    assert clash.status_code == 400 and other["name"] in clash.text
    bound = await client.post(
        url, data={"_csrf_token": token, "name": provider["name"], "cqc_provider_id": mine}
    )
    assert bound.status_code == 303
    org = await Organisation.select().where(Organisation.id == provider["id"]).first()
    assert org["cqc_provider_id"] == mine
    assert mine in (await client.get(url)).text
    assert mine in (await client.get("/admin/organisations")).text
    operator = await client.get(f"/admin/organisations/{admin['organisation']}")
    assert operator.status_code == 200 and 'name="cqc_provider_id"' not in operator.text
    # left out of the form (renaming only), the binding stays; emptied, it is cleared
    await client.post(url, data={"_csrf_token": token, "name": provider["name"]})
    assert (await Organisation.select().where(Organisation.id == provider["id"]).first())[
        "cqc_provider_id"
    ] == mine
    await client.post(
        url, data={"_csrf_token": token, "name": provider["name"], "cqc_provider_id": ""}
    )
    assert (await Organisation.select().where(Organisation.id == provider["id"]).first())[
        "cqc_provider_id"
    ] is None


async def test_only_the_administrator_sets_a_services_cqc_location_id(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, manager)
    someone_elses = cqc_id()
    before = await _service(service["id"])
    for person in (manager, lead):
        refused = await client.patch(
            f"/api/v1/services/{service['id']}",
            headers=bearer(await api_token(person)),
            json={"cqc_location_id": someone_elses},
        )
        assert refused.status_code == 403, refused.text
        assert "administrator" in _fields(refused)["cqc_location_id"]
    await log_in(client, manager)
    page = await client.post(
        f"/services/{service['id']}/edit",
        data={
            "_csrf_token": await csrf_token(client),
            "name": service["name"],
            "cqc_location_id": someone_elses,
        },
    )
    assert page.status_code == 403 and "administrator" in page.text
    assert await _service(service["id"]) == before
    # the manager's own form no longer offers the field; saving it changes the rest
    form = await client.get(f"/services/{service['id']}/edit")
    assert 'name="cqc_location_id"' not in form.text
    saved = await client.post(
        f"/services/{service['id']}/edit",
        data={
            "_csrf_token": await csrf_token(client),
            "name": service["name"],
            "local_authority": "Devon",
        },
    )
    assert saved.status_code == 303
    # the administrator links it
    admin = await world.admin()
    linked = await client.patch(
        f"/api/v1/services/{service['id']}",
        headers=bearer(await api_token(admin)),
        json={"cqc_location_id": someone_elses},
    )
    assert linked.status_code == 200, linked.text
    assert (await _service(service["id"]))["cqc_location_id"] == someone_elses
    # not to a location another service holds: refused, naming the holder
    holder = await world.org(OrgKind.PROVIDER, "Holds It Ltd")
    held = await _located_service(world, holder)
    clash = await client.patch(
        f"/api/v1/services/{service['id']}",
        headers=bearer(await api_token(admin)),
        json={"cqc_location_id": held["cqc_location_id"]},
    )
    assert clash.status_code == 422 and "Holds It Ltd" in _fields(clash)["cqc_location_id"]
    # unlinking is recorded in the service's history, with what it was
    await client.patch(
        f"/api/v1/services/{service['id']}",
        headers=bearer(await api_token(admin)),
        json={"cqc_location_id": None},
    )
    events = (
        await AuditEvent.select()
        .where((AuditEvent.service == service["id"]) & (AuditEvent.entity == "service"))
        .order_by(AuditEvent.id)
    )
    assert [e["action"] for e in events] == ["location_linked", "location_unlinked"]
    assert json.loads(events[1]["before"]) == {"cqc_location_id": someone_elses}


# --- providers' own imports only update their own locations ----------------------------------


async def test_a_quality_leads_import_never_creates_a_location(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    new = record(cqc_id(), cqc_id())
    before = await _state()
    answer = await client.post(
        "/api/v1/imports/cqc-locations",
        headers=bearer(await api_token(lead)),
        json={"records": [new]},
    )
    assert answer.status_code == 403, answer.text
    assert "administrator" in _fields(answer)[f"location {new['locationId']}"]
    assert await _state() == before
    assert not await Service.exists().where(Service.cqc_location_id == new["locationId"])


async def test_a_location_held_by_another_provider_is_refused_naming_the_holder(client, world):
    """The reported attack, second part: a quality lead imported another provider's
    location first and kept it."""
    holder = await world.org(OrgKind.PROVIDER, "Rightful Care")
    theirs = await _located_service(world, holder)
    provider = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    own = await _located_service(world, provider)
    good = record(own["cqc_location_id"], cqc_id(), name="Renamed Own Home")
    grab = record(theirs["cqc_location_id"], cqc_id(), name="Grabbed")
    before = await _state(own["id"], theirs["id"])
    answer = await client.post(
        "/api/v1/imports/cqc-locations",
        headers=bearer(await api_token(lead)),
        json={"records": [good, grab]},
    )
    assert answer.status_code == 409, answer.text
    assert holder["name"] in _fields(answer)[f"location {theirs['cqc_location_id']}"]
    # one transaction: the good record before it was not written either
    assert await _state(own["id"], theirs["id"]) == before


async def test_a_record_whose_provider_is_bound_to_another_organisation_is_refused(world):
    other = await world.org(OrgKind.PROVIDER, "Bound Elsewhere")
    provider = await world.org(OrgKind.PROVIDER)
    lead = viewer_of(await world.user(provider, Role.QUALITY_LEAD))
    own = await _located_service(world, provider)
    elsewhere, ours = cqc_id(), cqc_id()
    await _bind(other, elsewhere)
    before = await _state(own["id"])
    try:
        await importer.import_locations(
            lead, cqc.parse_locations(record(own["cqc_location_id"], elsewhere))
        )
    except importer.ImportConflict as exc:
        assert "Bound Elsewhere" in exc.errors[f"location {own['cqc_location_id']}"]
    else:
        raise AssertionError("a record of another organisation's provider was imported")
    assert await _state(own["id"]) == before
    # the organisation's own bound provider: the location is updated, nothing bound
    await _bind(provider, ours)
    report = await importer.import_locations(
        lead, cqc.parse_locations(record(own["cqc_location_id"], ours, name="Own Renamed"))
    )
    assert report.updated == ["Own Renamed"]
    # and a record naming another provider than the organisation's is refused
    stray = cqc_id()
    try:
        await importer.import_locations(
            lead, cqc.parse_locations(record(own["cqc_location_id"], stray))
        )
    except importer.ImportConflict as exc:
        assert ours in exc.errors[f"location {own['cqc_location_id']}"]
    else:
        raise AssertionError("a record of another CQC provider was imported")


# --- the administrator's import wins -------------------------------------------------------


async def test_the_administrators_import_moves_a_location_from_a_wrong_holder(client, world):
    rightful = await world.org(OrgKind.PROVIDER, "Rightful Homes")
    grabber = await world.org(OrgKind.PROVIDER, "Grabbing Care")
    lead = await world.user(grabber, Role.QUALITY_LEAD)
    location, provider_id = cqc_id(), cqc_id()
    data = record(location, provider_id, rightful["name"], name="Contested House")

    # a quality lead can no longer import it first
    first = await client.post(
        "/api/v1/imports/cqc-locations",
        headers=bearer(await api_token(lead)),
        json={"records": [data]},
    )
    assert first.status_code == 403, first.text
    # an earlier wrong claim (made before this rule): the grabber's service holds it
    wrong = await world.service(grabber, name="Grabbed House")
    await Service.update(
        {Service.cqc_location_id: location, Service.cqc_provider_id: provider_id}
    ).where(Service.id == wrong["id"])
    admin = await world.admin()

    # matching automatically updates the holder, and says who should hold it
    await _bind(rightful, provider_id)
    auto = await importer.import_locations(viewer_of(admin), cqc.parse_locations(data))
    assert (await _service(wrong["id"]))["cqc_location_id"] == location
    assert any("Rightful Homes" in note for note in auto.notes)

    # imported under the right provider from Admin › Import from CQC, it moves
    await log_in(client, admin)
    page = await client.post(
        "/admin/imports",
        data={
            "_csrf_token": await csrf_token(client),
            "kind": "locations",
            "provider": str(rightful["id"]),
        },
        files={"file": ("one.json", json.dumps(data).encode(), "application/json")},
    )
    assert page.status_code == 200, page.text
    assert "1 moved" in page.text and "Grabbing Care" in page.text
    moved = await Service.select().where(Service.cqc_location_id == location).first()
    assert moved["provider"] == rightful["id"] and moved["id"] != wrong["id"]
    left = await _service(wrong["id"])
    assert left["cqc_location_id"] is None and left["cqc_provider_id"] == ""
    events = await AuditEvent.select().where(
        (AuditEvent.service == wrong["id"]) & (AuditEvent.entity == "service")
    )
    (event,) = [e for e in events if e["action"] == "location_moved"]
    assert "Rightful Homes" in event["summary"] and location in event["summary"]
    created = await AuditEvent.select().where(AuditEvent.service == moved["id"])
    assert any("Grabbing Care" in e["summary"] for e in created)
    # and it stays there: matching automatically now finds it under the right provider
    again = await importer.import_locations(viewer_of(admin), cqc.parse_locations(data))
    assert again.unchanged == ["Contested House"] and not again.moved


# --- a service's own page takes its own location's record only -------------------------------


async def test_a_record_of_another_location_is_refused_on_a_services_page(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    own = await _located_service(world, provider, manager)
    other = record(cqc_id(), cqc_id(), name="Somewhere Else")
    before = await _state(own["id"])
    await log_in(client, manager)
    page = await client.post(
        f"/services/{own['id']}/import",
        data={"_csrf_token": await csrf_token(client)},
        files={"file": ("other.json", json.dumps(other).encode(), "application/json")},
    )
    assert page.status_code == 400 and "locationId:" in page.text
    api = await client.post(
        f"/api/v1/services/{own['id']}/cqc-record",
        headers=bearer(await api_token(manager)),
        json=other,
    )
    assert api.status_code == 422 and own["cqc_location_id"] in _fields(api)["locationId"]
    assert await _state(own["id"]) == before


async def test_a_service_without_a_location_is_linked_by_the_administrator_only(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    service = await world.service(provider, manager)
    provider_id = cqc_id()
    data = record(cqc_id(), provider_id, name="Linked House")
    before = await _state(service["id"])
    for person in (manager, lead):
        refused = await client.post(
            f"/api/v1/services/{service['id']}/cqc-record",
            headers=bearer(await api_token(person)),
            json=data,
        )
        assert refused.status_code == 403, refused.text
        assert "administrator" in _fields(refused)["locationId"]
    await log_in(client, manager)
    page = await client.post(
        f"/services/{service['id']}/import",
        data={"_csrf_token": await csrf_token(client)},
        files={"file": ("one.json", json.dumps(data).encode(), "application/json")},
    )
    assert page.status_code == 403 and "administrator" in page.text
    assert await _state(service["id"]) == before
    # the page tells the manager so, instead of offering an upload that cannot work
    assert "Import the CQC record" not in (await client.get(f"/services/{service['id']}")).text

    admin = await world.admin()
    auth = bearer(await api_token(admin))
    # not a location another service holds: that is refused, naming the holder
    holder = await world.org(OrgKind.PROVIDER, "Holding Homes")
    held = await _located_service(world, holder)
    before = await _state(service["id"])
    clash = await client.post(
        f"/api/v1/services/{service['id']}/cqc-record",
        headers=auth,
        json=record(held["cqc_location_id"], cqc_id()),
    )
    assert clash.status_code == 409 and "Holding Homes" in _fields(clash)["locationId"]
    assert await _state(service["id"]) == before
    linked = await client.post(
        f"/api/v1/services/{service['id']}/cqc-record", headers=auth, json=data
    )
    assert linked.status_code in (200, 201), linked.text
    row = await _service(service["id"])
    assert row["cqc_location_id"] == data["locationId"] and row["name"] == "Linked House"
    org = await Organisation.select().where(Organisation.id == provider["id"]).first()
    assert org["cqc_provider_id"] == provider_id  # the administrator's import binds
    # from now on the manager's uploads of that record update the service
    data["name"] = "Linked House Renamed"
    update = await client.post(
        f"/api/v1/services/{service['id']}/cqc-record",
        headers=bearer(await api_token(manager)),
        json=data,
    )
    assert update.status_code in (200, 201), update.text
    assert (await _service(service["id"]))["name"] == "Linked House Renamed"


# --- bad input: a 4xx naming the field, nothing written --------------------------------------


async def test_a_bad_provider_choice_is_refused_naming_the_field(client, world):
    admin = await world.admin()
    council = await world.org(OrgKind.COMMISSIONER)
    provider = await world.org(OrgKind.PROVIDER)
    other = await world.org(OrgKind.PROVIDER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    data = record(cqc_id(), cqc_id())
    before = await _state()
    for person, provider_id, status in (
        (admin, 2_000_000_000, 422),  # no such organisation
        (admin, council["id"], 422),  # not a provider
        (lead, other["id"], 403),  # not the lead's to choose
    ):
        answer = await client.post(
            "/api/v1/imports/cqc-locations",
            headers=bearer(await api_token(person)),
            json={"records": [data], "provider_id": provider_id},
        )
        assert answer.status_code == status, (provider_id, answer.text)
        assert "provider_id" in _fields(answer)
    await log_in(client, admin)
    page = await client.post(
        "/admin/imports",
        data={"_csrf_token": await csrf_token(client), "kind": "locations", "provider": "x1"},
        files={"file": ("one.json", json.dumps(data).encode(), "application/json")},
    )
    assert page.status_code == 400 and "provider:" in page.text
    assert await _state() == before


async def test_the_same_location_twice_in_one_file_is_one_service(world):
    admin = viewer_of(await world.admin())
    provider = await world.org(OrgKind.PROVIDER)
    data = record(cqc_id(), cqc_id(), name="Twice House")
    report = await importer.import_locations(
        admin, cqc.parse_locations([data, data]), provider_id=provider["id"]
    )
    assert report.created == ["Twice House"] and report.unchanged == ["Twice House"]
    assert await Service.count().where(Service.cqc_location_id == data["locationId"]) == 1


# --- the command line acts as the administrator: it binds ------------------------------------


async def test_the_command_line_import_binds_the_chosen_provider(tmp_path):
    slug = f"cli-bind-{secrets.token_hex(3)}"
    env = {"IMPROVE_DATABASE_URL": TEST_DATABASE_URL}
    made = improve(
        "org",
        "create",
        "--name",
        f"Cli Bind {slug}",
        "--kind",
        "provider",
        "--slug",
        slug,
        cwd=tmp_path,
        **env,
    )
    assert made.returncode == 0, made.stderr
    provider_id, second_location = cqc_id(), cqc_id()
    (tmp_path / "first.json").write_text(json.dumps(record(cqc_id(), provider_id)))
    (tmp_path / "second.json").write_text(json.dumps(record(second_location, provider_id)))
    first = improve("import-cqc", "first.json", "--provider", slug, cwd=tmp_path, **env)
    assert first.returncode == 0, first.stderr
    org = await Organisation.select().where(Organisation.slug == slug).first()
    assert org["cqc_provider_id"] == provider_id
    # matched automatically by the bound provider id (the name matches nobody)
    second = improve("import-cqc", "second.json", cwd=tmp_path, **env)
    assert second.returncode == 0, second.stderr
    assert "1 created" in second.stdout
    placed = await Service.select().where(Service.cqc_location_id == second_location).first()
    assert placed["provider"] == org["id"]
    bad = improve(
        "import-cqc", "second.json", "--provider", "no-such-organisation", cwd=tmp_path, **env
    )
    assert bad.returncode == 2 and "Nothing was imported." in bad.stderr
