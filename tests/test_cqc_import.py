"""CQC import: the variations real records have, clear errors, all-or-nothing writes."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from conftest import viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.services import cqc, importer
from improve.services.cqc import ImportProblem
from improve.services.tables import Rating, Service

DATA = Path(__file__).parent / "data"
NOW = dt.datetime(2026, 8, 1, 9, tzinfo=dt.UTC)


def record(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def with_location(data: dict, location_id: str) -> dict:
    data = copy.deepcopy(data)
    data["locationId"] = location_id
    return data


def test_a_full_record_gives_the_service_and_its_ratings():
    location = cqc.parse_location(record("cqc_location_inadequate.json"))
    assert location.service_type == "care_home_nursing" and location.beds == 40
    assert location.registered_manager == "Alex Morgan"
    assert [r.published_on for r in location.ratings] == [dt.date(2024, 2, 8), dt.date(2026, 4, 30)]
    current = location.ratings[-1]
    assert current.overall == "inadequate"
    assert current.key_questions["responsive"] == "requires_improvement"  # "Improvement"
    assert current.key_questions["well_led"] == "inadequate"


def test_ratings_only_under_assessment_asg_ratings():
    location = cqc.parse_location(record("cqc_location_assessment_only.json"))
    assert location.service_type == "home_care" and location.beds is None
    (rating,) = location.ratings
    assert rating.published_on == dt.date(2026, 7, 2)
    assert rating.overall == "requires_improvement" and rating.key_questions["safe"] == "inadequate"


def test_not_rated_overall_keeps_every_service_rating():
    location = cqc.parse_location(record("cqc_location_service_ratings.json"))
    assert location.service_type == "care_home"
    own, homecare, residential = location.ratings
    assert own.service_type == "" and own.overall == ""  # "Not rated", as CQC shows it
    assert (homecare.service_type, homecare.overall) == ("Homecare agencies", "good")
    assert residential.service_type == "Residential homes"
    assert residential.overall == "inadequate" and residential.key_questions["safe"] == "inadequate"


def test_missing_fields_are_named():
    data = record("cqc_location_inadequate.json")
    del data["name"], data["providerId"]
    with pytest.raises(ImportProblem) as refused:
        cqc.parse_location(data)
    assert refused.value.errors == {"name": "is missing", "providerId": "is missing"}


def test_bad_location_id_and_bad_rating_are_named():
    bad_id = with_location(record("cqc_location_inadequate.json"), "X-12")
    with pytest.raises(ImportProblem, match="not a CQC location id"):
        cqc.parse_location(bad_id)
    data = record("cqc_location_inadequate.json")
    data["currentRatings"]["overall"]["rating"] = "Superb"
    with pytest.raises(ImportProblem, match="'Superb' is not a CQC rating"):
        cqc.parse_location(data)


def test_a_list_reports_every_bad_record():
    good = record("cqc_location_inadequate.json")
    with pytest.raises(ImportProblem) as refused:
        cqc.parse_locations([good, {"name": "No id"}, "not an object"])
    assert set(refused.value.errors) == {"[1].locationId", "[1].providerId", "[2]"}


@pytest.fixture
async def admin(world):
    return viewer_of(await world.admin())


async def test_import_creates_then_reimport_changes_nothing(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    data = with_location(record("cqc_location_inadequate.json"), "1-555000001")
    with clock.frozen(NOW):
        report = await importer.import_locations(
            admin, cqc.parse_locations(data), provider_id=provider["id"]
        )
        assert report.created == ["Example House"] and report.ratings_added == 2
        again = await importer.import_locations(admin, cqc.parse_locations(data))
    assert again.unchanged == ["Example House"] and again.ratings_added == 0
    service = await Service.select().where(Service.cqc_location_id == "1-555000001").first()
    assert service["provider"] == provider["id"]
    assert await Rating.count().where(Rating.service == service["id"]) == 2


async def test_a_bad_record_in_a_file_writes_nothing(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    good = with_location(record("cqc_location_inadequate.json"), "1-555000002")
    good["providerName"] = provider["name"]  # resolvable: an organisation of that name
    orphan = with_location(record("cqc_location_inadequate.json"), "1-555000003")
    orphan["providerId"], orphan["providerName"] = "1-999999998", "Unknown Homes Ltd"
    services_before, ratings_before = await Service.count(), await Rating.count()
    with pytest.raises(ImportProblem, match="location 1-555000003: no provider organisation"):
        await importer.import_locations(admin, cqc.parse_locations([good, orphan]))
    # the first record was written, then rolled back with the second's failure
    assert await Service.count() == services_before
    assert await Rating.count() == ratings_before


async def test_unknown_provider_is_a_clear_error(admin):
    data = with_location(record("cqc_location_inadequate.json"), "1-555000004")
    data["providerId"], data["providerName"] = "1-999999999", "Nobody Known Ltd"
    with pytest.raises(ImportProblem, match="no provider organisation for CQC provider"):
        await importer.import_locations(admin, cqc.parse_locations(data))


async def test_import_onto_the_service_page_moves_an_open_case_on(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    first = with_location(record("cqc_location_inadequate.json"), "1-555000005")
    first["providerId"] = "1-555000905"  # a provider id no other test binds
    # only the administrator links a service to its CQC location; then its people import
    await Service.update({Service.cqc_location_id: "1-555000005"}).where(
        Service.id == service["id"]
    )
    with clock.frozen(NOW):
        await importer.import_locations(me, cqc.parse_locations(first), service_id=service["id"])
        case = await cases.open_case(me, service["id"])
    assert case["special_measures"] and case["published_on"] == dt.date(2026, 4, 30)
    recovered = copy.deepcopy(first)
    recovered["historicRatings"].append(
        {"reportDate": "2026-04-30", "overall": first["currentRatings"]["overall"]}
    )
    recovered["currentRatings"]["overall"].update(
        rating="Requires improvement", reportDate="2026-11-01"
    )
    for kq in recovered["currentRatings"]["overall"]["keyQuestionRatings"]:
        kq["rating"] = "Requires improvement"
    with clock.frozen(dt.datetime(2026, 11, 5, tzinfo=dt.UTC)):
        report = await importer.import_locations(
            me, cqc.parse_locations(recovered), service_id=service["id"]
        )
    assert report.ratings_added == 1
    case = await cases.get_case(me, case["id"])
    assert case["stage"] == "sustaining" and not case["special_measures"]


def test_care_directory_rows():
    rows = cqc.parse_directory((DATA / "care_directory.csv").read_text())
    kinds = {r.location.name: (r.location.service_type, r.location.beds) for r in rows}
    assert kinds == {
        "Moor View": ("care_home", 36),
        "Moor Lodge Nursing": ("care_home_nursing", 52),
        "Moorland at Home": ("home_care", None),
    }
    assert rows[0].location.ratings[0].overall == "inadequate"


def test_care_directory_errors_name_the_line():
    text = (DATA / "care_directory.csv").read_text().replace("1-000000102", "102")
    with pytest.raises(ImportProblem) as refused:
        cqc.parse_directory(text)
    assert list(refused.value.errors) == ["line 3"]
    with pytest.raises(ImportProblem, match="not a CQC care directory"):
        cqc.parse_directory("Name,Town\nA,B\n")


async def test_care_directory_creates_providers_and_services(admin):
    # location ids of our own: the command-line test imports the same file
    text = (DATA / "care_directory.csv").read_text().replace("1-000000", "1-888000")
    rows = cqc.parse_directory(text.replace("Moorland Care", "Moorland Care Two"))
    with clock.frozen(NOW):
        report = await importer.import_locations(
            admin, [r.location for r in rows], create_providers=True
        )
        again = await importer.import_locations(admin, [r.location for r in rows])
    assert len(report.created) == 3 and report.ratings_added == 3
    assert len(again.unchanged) == 3 and again.ratings_added == 0
