"""Every shape of CQC location record, read as CQC's public API returns it.

The fixtures under tests/data/cqc_shapes/ are one record per shape and variation: older
inspections (currentRatings, historicRatings), assessments under the Single Assessment
Framework (assessment[].ratings.overall and asgRatings[], dated by
assessmentPlanPublishedDateTime and assessmentDate), ratings per service type (current
and historic, in any order), an absent registered manager, an unpublished report, the
words CQC uses where there is no rating, and records that must be refused. A refusal
names the field by its path in the record and writes nothing.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import secrets
from pathlib import Path

import pytest
from conftest import api_token, csrf_token, log_in, unique_location_id, viewer_of

from improve import clock, history_words
from improve.accounts.tables import Organisation, OrgKind, Role
from improve.cases import domain as cases
from improve.cases import stages
from improve.cases.tables import AuditEvent, Case
from improve.services import cqc, importer, ratings
from improve.services.cqc import ParsedLocation, RecordRefused
from improve.services.tables import Rating, Service

SHAPES = Path(__file__).parent / "data" / "cqc_shapes"
NOW = dt.datetime(2026, 10, 1, 9, tzinfo=dt.UTC)


def shape(name: str) -> dict:
    return json.loads((SHAPES / f"{name}.json").read_text())


def own(record: dict) -> dict:
    """The record with a location and provider id no other test uses."""
    data = copy.deepcopy(record)
    data["locationId"] = unique_location_id()
    data["providerId"] = "1-" + str(10**9 + secrets.randbelow(9 * 10**9))
    return data


def rows(location: ParsedLocation) -> list[tuple]:
    return [(r.published_on, r.service_type, r.overall) for r in location.ratings]


def refusal(record: object) -> dict[str, str]:
    with pytest.raises(RecordRefused) as refused:
        cqc.parse_location(record)
    return refused.value.errors


# --- each shape, parsed -------------------------------------------------------------------


def test_every_fixture_is_a_location_record_as_the_api_returns_it():
    files = sorted(SHAPES.glob("*.json"))
    assert len(files) >= 12
    for path in files:
        record = json.loads(path.read_text())
        assert record["locationId"].startswith("1-") and record["type"] == "Social Care Org"
        assert "providerName" not in record  # the location record does not carry it


def test_older_inspection_current_and_historic_ratings():
    location = cqc.parse_location(shape("inspection_inadequate"))
    assert rows(location) == [
        (dt.date(2019, 6, 12), "", "good"),
        (dt.date(2024, 2, 8), "", "requires_improvement"),
        (dt.date(2026, 4, 30), "", "inadequate"),
    ]
    current = location.ratings[-1]
    assert current.key_questions == {
        "safe": "inadequate",
        "effective": "requires_improvement",
        "caring": "good",
        "responsive": "requires_improvement",  # "Requires Improvement"
        "well_led": "inadequate",
    }
    assert current.report_link_id == "5c1d-0001" and current.source == "cqc_api"
    assert location.registered_manager == "Sam Okafor" and location.beds == 40
    assert location.manager_absent_since is None and location.unpublished_visit_on is None


def test_older_inspection_one_key_question_inadequate():
    location = cqc.parse_location(shape("inspection_key_question_inadequate"))
    current = location.ratings[-1]
    assert current.published_on == dt.date(2025, 11, 20)  # the overall's report, not its KQs'
    assert current.overall == "requires_improvement"
    assert current.key_questions["safe"] == "inadequate"
    assert stages.opens_case(current.overall, current.key_questions)


def test_assessment_asg_ratings_dated_by_publication_and_assessment():
    location = cqc.parse_location(shape("saf_asg_inadequate"))
    (rating,) = location.ratings
    assert rating.published_on == dt.date(2026, 7, 2)  # assessmentPlanPublishedDateTime
    assert rating.assessed_on == dt.date(2026, 6, 1)  # assessmentDate
    assert rating.service_type == ""  # one assessment service group: the location's own
    assert rating.overall == "inadequate"
    assert rating.key_questions == {
        "safe": "inadequate",
        "effective": "requires_improvement",
        "caring": "good",
        "responsive": "requires_improvement",
        "well_led": "inadequate",
    }


def test_assessment_overall_given_as_a_list_and_a_date_time_with_zone():
    location = cqc.parse_location(shape("saf_overall_list"))
    (rating,) = location.ratings
    assert rating.published_on == dt.date(2026, 5, 14)  # "2026-05-14T10:12:31.123Z"
    assert rating.overall == "requires_improvement" and rating.key_questions["caring"] == "good"
    assert location.service_type == "home_care" and location.beds is None


def test_assessment_overall_given_as_one_object():
    data = shape("saf_overall_list")
    data["assessment"][0]["ratings"]["overall"] = data["assessment"][0]["ratings"]["overall"][0]
    (rating,) = cqc.parse_location(data).ratings
    assert rating.overall == "requires_improvement"


def test_an_inspection_then_an_assessment():
    location = cqc.parse_location(shape("saf_after_inspection"))
    assert rows(location) == [
        (dt.date(2022, 9, 1), "", "good"),
        (dt.date(2026, 2, 19), "", "requires_improvement"),
    ]
    assert location.ratings[-1].key_questions["safe"] == "inadequate"


def test_two_assessments_each_kept():
    location = cqc.parse_location(shape("saf_two_assessments"))
    assert rows(location) == [
        (dt.date(2026, 1, 15), "", "inadequate"),
        (dt.date(2026, 8, 20), "", "requires_improvement"),
    ]


def test_ratings_per_service_type_every_type_kept():
    location = cqc.parse_location(shape("service_types_inadequate_last"))
    on = dt.date(2026, 2, 10)
    assert rows(location) == [
        (on, "", ""),  # the location's own overall, "Not rated" as CQC shows it
        (on, "Homecare agencies", "good"),
        (on, "Residential homes", "inadequate"),
    ]
    residential = location.ratings[-1]
    assert residential.key_questions["well_led"] == "inadequate"
    assert any("Residential homes" in n for n in location.notes)


def test_ratings_per_service_type_in_any_order():
    data = shape("service_types_three")
    expected = rows(cqc.parse_location(data))
    assert expected == [
        (dt.date(2024, 10, 22), "Homecare agencies", "good"),
        (dt.date(2026, 3, 3), "", ""),
        (dt.date(2026, 3, 3), "Residential homes", "requires_improvement"),
        (dt.date(2026, 3, 3), "Supported living", "inadequate"),
    ]
    for seed in range(5):
        shuffled = copy.deepcopy(data)
        random.Random(seed).shuffle(shuffled["currentRatings"]["serviceRatings"])
        assert rows(cqc.parse_location(shuffled)) == expected


def test_ratings_per_service_type_in_the_history():
    location = cqc.parse_location(shape("service_types_historic"))
    assert rows(location) == [
        (dt.date(2024, 4, 4), "", ""),
        (dt.date(2024, 4, 4), "Homecare agencies", "requires_improvement"),
        (dt.date(2024, 4, 4), "Residential homes", "inadequate"),
        (dt.date(2026, 1, 12), "", "good"),
    ]


def test_assessment_with_two_service_groups():
    location = cqc.parse_location(shape("saf_two_service_groups"))
    assert [(r.service_type, r.overall, r.assessed_on) for r in location.ratings] == [
        ("Care homes", "inadequate", dt.date(2026, 5, 19)),
        ("Homecare", "good", dt.date(2026, 5, 20)),
    ]
    assert {r.published_on for r in location.ratings} == {dt.date(2026, 6, 25)}


def test_registered_manager_absent():
    location = cqc.parse_location(shape("manager_absent"))
    assert location.manager_absent_since == dt.date(2026, 5, 1)
    assert location.registered_manager == ""


def test_report_not_yet_published():
    location = cqc.parse_location(shape("unpublished_report"))
    assert location.unpublished_visit_on == dt.date(2026, 9, 15)
    assert rows(location) == [(dt.date(2024, 12, 2), "", "requires_improvement")]


def test_the_words_cqc_uses_for_no_rating_are_not_ratings():
    location = cqc.parse_location(shape("not_rated_words"))
    (rating,) = location.ratings  # the historic "Inspected but not rated" adds nothing
    assert rating.overall == "good"
    assert [rating.key_questions[k] for k in ("effective", "caring", "responsive")] == ["", "", ""]


def test_never_inspected_says_so():
    location = cqc.parse_location(shape("never_inspected"))
    assert location.ratings == ()
    assert any("no published rating" in n for n in location.notes)


def test_a_word_cqc_never_uses_is_refused_without_a_date():
    errors = refusal(shape("refused_word_undated"))
    assert "'Excellent' is not a CQC rating" in errors["currentRatings.overall.rating"]


def test_a_word_cqc_never_uses_in_an_assessment_is_refused():
    errors = refusal(shape("refused_word_assessment"))
    assert list(errors) == ["assessment[0].ratings.asgRatings[0].keyQuestionRatings[1].rating"]
    assert "'Adequate'" in errors[list(errors)[0]]


def test_a_rating_without_its_publication_date_is_refused():
    errors = refusal(shape("refused_undated_rating"))
    assert errors == {"currentRatings.overall.reportDate": "a rating needs its publication date"}


# --- the rating words, everywhere a rating can be -------------------------------------------


# a rating block at each place a record can hold one: (path of its rating, put it there)
def _at_current(data, block):
    data["currentRatings"] = {"overall": block}


def _at_key_question(data, block):
    data["currentRatings"] = {
        "overall": {
            "rating": "Not rated",
            "reportDate": block.get("reportDate"),
            "keyQuestionRatings": [{"name": "Safe", "rating": block["rating"]}],
        }
    }


def _at_service(data, block):
    data["currentRatings"] = {
        "overall": {"rating": "Not rated"},
        "serviceRatings": [{"name": "Residential homes", **block}],
    }


def _at_historic(data, block):
    data["historicRatings"] = [{"reportDate": block.get("reportDate"), "overall": block}]


def _at_assessment_overall_list(data, block):
    data["assessment"] = [
        {
            "assessmentPlanPublishedDateTime": block.get("reportDate"),
            "ratings": {"overall": [{"rating": block["rating"], "status": "Current"}]},
        }
    ]


def _at_assessment_overall(data, block):
    data["assessment"] = [
        {
            "assessmentPlanPublishedDateTime": block.get("reportDate"),
            "ratings": {"overall": {"rating": block["rating"]}},
        }
    ]


def _at_asg(data, block):
    data["assessment"] = [
        {
            "assessmentPlanPublishedDateTime": block.get("reportDate"),
            "ratings": {"asgRatings": [{"name": "Care homes", "rating": block["rating"]}]},
        }
    ]


PLACES = [
    ("currentRatings.overall.rating", _at_current),
    ("currentRatings.overall.keyQuestionRatings[0].rating", _at_key_question),
    ("currentRatings.serviceRatings[0].rating", _at_service),
    ("historicRatings[0].overall.rating", _at_historic),
    ("assessment[0].ratings.overall[0].rating", _at_assessment_overall_list),
    ("assessment[0].ratings.overall.rating", _at_assessment_overall),
    ("assessment[0].ratings.asgRatings[0].rating", _at_asg),
]


def _record_with(put, word, date):
    data = shape("never_inspected")
    del data["currentRatings"]
    block = {"rating": word}
    if date:
        block["reportDate"] = date
    put(data, block)
    return data


@pytest.mark.parametrize("path,put", PLACES, ids=[p for p, _ in PLACES])
@pytest.mark.parametrize("date", ["2026-04-30", None], ids=["dated", "undated"])
@pytest.mark.parametrize(
    "word", ["Excellent", "EXCELLENT", "excellent", "Superb", "Poor", "Adequate", "Outstandingly"]
)
def test_a_word_outside_cqcs_is_refused_wherever_it_is(path, put, date, word):
    errors = refusal(_record_with(put, word, date))
    assert path in errors and f"'{word}' is not a CQC rating" in errors[path]


@pytest.mark.parametrize("path,put", PLACES, ids=[p for p, _ in PLACES])
@pytest.mark.parametrize(
    "word,value",
    [
        ("Outstanding", "outstanding"),
        ("GOOD", "good"),
        ("Requires Improvement", "requires_improvement"),
        ("requires improvement", "requires_improvement"),
        ("inadequate", "inadequate"),
    ],
)
def test_cqcs_four_ratings_in_any_capitals(path, put, word, value):
    location = cqc.parse_location(_record_with(put, word, "2026-04-30"))
    found = {r.overall for r in location.ratings} | {
        v for r in location.ratings for v in r.key_questions.values()
    }
    assert value in found


@pytest.mark.parametrize("path,put", PLACES, ids=[p for p, _ in PLACES])
@pytest.mark.parametrize(
    "word",
    [
        "Not rated",
        "NOT RATED",
        "Inspected but not rated",
        "No published rating",
        "Insufficient evidence to rate",
        "Not Yet Inspected",
        "No Approved Rating",
        "Evidence requirements partially / not yet scored",
        "",
        None,
    ],
)
@pytest.mark.parametrize("date", ["2026-04-30", None], ids=["dated", "undated"])
def test_cqcs_words_for_no_rating_are_accepted_as_not_rated(path, put, word, date):
    location = cqc.parse_location(_record_with(put, word, date))
    assert all(r.overall == "" and not any(r.key_questions.values()) for r in location.ratings), (
        "no rating is made up"
    )


def test_a_rating_that_is_not_text_is_refused():
    data = shape("inspection_inadequate")
    data["currentRatings"]["overall"]["keyQuestionRatings"][2]["rating"] = 3
    errors = refusal(data)
    assert "currentRatings.overall.keyQuestionRatings[2].rating" in errors


def test_bad_dates_and_shapes_are_named_by_their_path():
    data = shape("service_types_three")
    data["currentRatings"]["serviceRatings"][1]["reportDate"] = "03/03/2026"
    data["currentRatings"]["serviceRatings"][2]["name"] = ""
    data["registeredManagerAbsentDate"] = "soon"
    data["unpublishedReports"] = [{"firstVisitDate": "2026-13-01"}]
    data["historicRatings"] = {"not": "a list"}
    errors = refusal(data)
    assert set(errors) == {
        "currentRatings.serviceRatings[1].reportDate",
        "currentRatings.serviceRatings[2].name",
        "registeredManagerAbsentDate",
        "unpublishedReports[0].firstVisitDate",
        "historicRatings",
    }


def test_missing_and_bad_ids_are_named_by_their_field():
    data = shape("inspection_inadequate")
    del data["name"], data["providerId"]
    assert set(refusal(data)) == {"name", "providerId"}
    data = shape("inspection_inadequate")
    data["locationId"] = "X-12"
    assert "not a CQC location id" in refusal(data)["locationId"]
    assert set(refusal("not an object")) == {"record"}


def test_a_list_names_each_record_by_its_index():
    good = shape("inspection_inadequate")
    bad = shape("refused_word_undated")
    with pytest.raises(RecordRefused) as refused:
        cqc.parse_locations([good, bad, {"name": "No id"}])
    assert "[1].currentRatings.overall.rating" in refused.value.errors
    assert {"[2].locationId", "[2].providerId"} <= set(refused.value.errors)


# --- imported: stored, shown, and a case can open ----------------------------------------


@pytest.fixture
async def admin(world):
    return viewer_of(await world.admin())


async def _provider_with_manager(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    return provider, manager


async def _linked_service(world, record: dict) -> tuple[dict, dict, dict]:
    """A service linked (by the administrator) to the record's location; its manager."""
    provider, manager = await _provider_with_manager(world)
    service = await world.service(provider, manager)
    await Service.update({Service.cqc_location_id: record["locationId"]}).where(
        Service.id == service["id"]
    )
    return provider, manager, service


async def _stored(service_id: int) -> list[tuple]:
    return [
        (r["published_on"], r["service_type"], r["overall"])
        for r in await Rating.select()
        .where(Rating.service == service_id)
        .order_by(Rating.published_on)
        .order_by(Rating.service_type)
    ]


async def test_an_assessment_imported_gives_its_rating_and_a_case_opens(world):
    record = own(shape("saf_asg_inadequate"))
    _, manager, service = await _linked_service(world, record)
    me = viewer_of(manager)
    with clock.frozen(NOW):
        report = await importer.import_locations(
            me, cqc.parse_locations(record), service_id=service["id"]
        )
        assert report.ratings_added == 1
        case = await cases.open_case(me, service["id"])
    assert case["special_measures"] and case["published_on"] == dt.date(2026, 7, 2)
    (row,) = await Rating.select().where(Rating.service == service["id"])
    assert row["assessed_on"] == dt.date(2026, 6, 1) and row["overall"] == "inadequate"


async def test_ratings_per_service_type_stored_and_a_case_opens_for_the_inadequate_type(
    world, client
):
    record = own(shape("service_types_inadequate_last"))
    _, manager, service = await _linked_service(world, record)
    me = viewer_of(manager)
    with clock.frozen(NOW):
        report = await importer.import_locations(
            me, cqc.parse_locations(record), service_id=service["id"]
        )
    on = dt.date(2026, 2, 10)
    assert report.ratings_added == 3
    assert await _stored(service["id"]) == [
        (on, "", ""),
        (on, "Homecare agencies", "good"),
        (on, "Residential homes", "inadequate"),
    ]
    await log_in(client, manager)
    page = await client.get(f"/services/{service['id']}")
    assert "Residential homes" in page.text and "Homecare agencies" in page.text
    assert "Open an improvement case" in page.text
    with clock.frozen(NOW):
        case = await cases.open_case(me, service["id"])
    assert case["opening_service_type"] == "Residential homes"
    assert case["special_measures"] and case["published_on"] == on
    opened = await AuditEvent.select(AuditEvent.summary).where(
        (AuditEvent.entity == "case") & (AuditEvent.entity_id == case["id"])
    )
    assert "Residential homes" in opened[0]["summary"]
    page = await client.get(f"/cases/{case['id']}")
    assert "Residential homes" in page.text


async def test_the_order_of_service_types_changes_nothing_stored(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    record = own(shape("service_types_three"))
    with clock.frozen(NOW):
        await importer.import_locations(
            admin, cqc.parse_locations(record), provider_id=provider["id"]
        )
        reordered = copy.deepcopy(record)
        reordered["currentRatings"]["serviceRatings"].reverse()
        again = await importer.import_locations(admin, cqc.parse_locations(reordered))
    assert again.ratings_added == 0 and again.unchanged == [record["name"]]
    service = (
        await Service.select(Service.id)
        .where(Service.cqc_location_id == record["locationId"])
        .first()
    )
    assert len(await _stored(service["id"])) == 4


async def test_a_later_rating_of_the_cases_service_type_moves_it_on(world):
    record = own(shape("service_types_inadequate_last"))
    _, manager, service = await _linked_service(world, record)
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await importer.import_locations(me, cqc.parse_locations(record), service_id=service["id"])
        case = await cases.open_case(me, service["id"])
    # a later rating of another service type leaves the case where it is
    other = copy.deepcopy(record)
    for item in other["currentRatings"]["serviceRatings"]:
        item["reportDate"] = "2026-09-01" if item["name"] == "Homecare agencies" else "2026-02-10"
    with clock.frozen(NOW):
        await importer.import_locations(me, cqc.parse_locations(other), service_id=service["id"])
    assert (await cases.get_case(me, case["id"]))["stage"] == "assessing"
    # the case's own service type recovering moves it to sustaining
    better = copy.deepcopy(other)
    for item in better["currentRatings"]["serviceRatings"]:
        if item["name"] == "Residential homes":
            item.update(rating="Requires improvement", reportDate="2026-09-20")
            for kq in item["keyQuestionRatings"]:
                kq["rating"] = "Requires improvement"
    with clock.frozen(NOW):
        report = await importer.import_locations(
            me, cqc.parse_locations(better), service_id=service["id"]
        )
    assert report.ratings_added == 1
    moved = await cases.get_case(me, case["id"])
    assert moved["stage"] == "sustaining" and not moved["special_measures"]


async def _state(service_id: int) -> tuple:
    return (
        await Service.select().where(Service.id == service_id),
        await Service.count(),
        await Rating.count(),
        await AuditEvent.count(),
        await Case.count(),
        await Organisation.count(),
    )


async def test_a_refused_record_writes_nothing_on_the_page(world, client):
    record = own(shape("refused_word_assessment"))
    _, manager, service = await _linked_service(world, record)
    await log_in(client, manager)
    before = await _state(service["id"])
    response = await client.post(
        f"/services/{service['id']}/import",
        files={"file": ("record.json", json.dumps(record), "application/json")},
        headers={"X-CSRFToken": await csrf_token(client)},
    )
    assert response.status_code == 400
    assert "assessment[0].ratings.asgRatings[0].keyQuestionRatings[1].rating" in response.text
    assert await _state(service["id"]) == before


async def test_a_refused_record_writes_nothing_through_the_api(world, client):
    record = own(shape("refused_word_undated"))
    _, manager, service = await _linked_service(world, record)
    before = await _state(service["id"])
    response = await client.post(
        f"/api/v1/services/{service['id']}/cqc-record",
        json=record,
        headers={"Authorization": f"Bearer {await api_token(manager)}"},
    )
    assert response.status_code == 422
    assert "currentRatings.overall.rating" in response.text
    assert await _state(service["id"]) == before


async def test_a_refused_record_in_a_bulk_file_writes_none_of_it(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    good, bad = own(shape("inspection_inadequate")), own(shape("refused_undated_rating"))
    services, rated = await Service.count(), await Rating.count()
    with pytest.raises(RecordRefused) as refused:
        await importer.import_locations(
            admin, cqc.parse_locations([good, bad]), provider_id=provider["id"]
        )
    assert list(refused.value.errors) == ["[1].currentRatings.overall.reportDate"]
    assert await Service.count() == services and await Rating.count() == rated


async def test_manager_absent_and_unpublished_report_stored_and_shown(world, client):
    record = own(shape("manager_absent"))
    record["unpublishedReports"] = [
        {"firstVisitDate": "2026-08-04"},
        {"firstVisitDate": "2026-09-15"},
    ]
    record["currentRatings"]["overall"]["rating"] = "Inadequate"  # so that a case can open
    _, manager, service = await _linked_service(world, record)
    me = viewer_of(manager)
    with clock.frozen(NOW):
        await importer.import_locations(me, cqc.parse_locations(record), service_id=service["id"])
        case = await cases.open_case(me, service["id"])
    row = await Service.select().where(Service.id == service["id"]).first()
    assert row["cqc_manager_absent_since"] == dt.date(2026, 5, 1)
    assert row["cqc_unpublished_visit_on"] == dt.date(2026, 9, 15)  # the latest visit
    await log_in(client, manager)
    for url in (f"/services/{service['id']}", f"/cases/{case['id']}"):
        text = " ".join((await client.get(url)).text.split())
        assert "no registered manager since 1 May 2026" in text, url
        assert "inspected 15 Sep 2026, report not yet published" in text, url
    api = await client.get(
        f"/api/v1/services/{service['id']}",
        headers={"Authorization": f"Bearer {await api_token(manager)}"},
    )
    assert api.json()["cqc_manager_absent_since"] == "2026-05-01"
    assert api.json()["cqc_unpublished_visit_on"] == "2026-09-15"
    # CQC's next record has a manager and the report published: both cleared, in the history
    later = copy.deepcopy(record)
    later["registeredManagerAbsentDate"] = None
    later["unpublishedReports"] = []
    with clock.frozen(NOW):
        report = await importer.import_locations(
            me, cqc.parse_locations(later), service_id=service["id"]
        )
    assert report.updated == [record["name"]]
    row = await Service.select().where(Service.id == service["id"]).first()
    assert row["cqc_manager_absent_since"] is None and row["cqc_unpublished_visit_on"] is None
    page = " ".join((await client.get(f"/services/{service['id']}")).text.split())
    assert "no registered manager since" not in page and "not yet published" not in page
    event = (
        await AuditEvent.select(AuditEvent.before)
        .where((AuditEvent.service == service["id"]) & (AuditEvent.action == "imported"))
        .order_by(AuditEvent.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert [
        (history_words.label(k), history_words.word("service", k, v))
        for k, v in event["before"].items()
    ] == [
        ("No registered manager (CQC) since", "1 May 2026"),
        ("Inspected, report not yet published", "15 Sep 2026"),
    ]


async def test_the_care_directory_leaves_what_only_the_api_says(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    record = own(shape("unpublished_report"))
    record["registeredManagerAbsentDate"] = "2026-06-30"
    with clock.frozen(NOW):
        await importer.import_locations(
            admin, cqc.parse_locations(record), provider_id=provider["id"]
        )
    directory = (
        "Location ID,Location Name,Care home?,Care homes beds,Registered manager,"
        "Location Latest Overall Rating,Publication Date,Location Local Authority,"
        "Provider ID,Provider Name\n"
        f"{record['locationId']},{record['name']},Y,32,,Requires improvement,02/12/2024,"
        f"Devon,{record['providerId']},{provider['name']}\n"
    )
    rows_ = cqc.parse_directory(directory)
    with clock.frozen(NOW):
        await importer.import_locations(admin, [r.location for r in rows_])
    row = await Service.select().where(Service.cqc_location_id == record["locationId"]).first()
    assert row["cqc_manager_absent_since"] == dt.date(2026, 6, 30)
    assert row["cqc_unpublished_visit_on"] == dt.date(2026, 9, 15)


async def test_an_import_with_no_rating_says_so(admin, world):
    provider = await world.org(OrgKind.PROVIDER)
    record = own(shape("never_inspected"))
    with clock.frozen(NOW):
        report = await importer.import_locations(
            admin, cqc.parse_locations(record), provider_id=provider["id"]
        )
    assert report.ratings_added == 0
    assert any("no published rating" in n for n in report.notes)


async def test_one_rating_per_service_date_and_type(world):
    provider = await world.org(OrgKind.PROVIDER)
    service = await world.service(provider)
    on = dt.date(2026, 2, 10)
    blank = dict.fromkeys(("safe", "effective", "caring", "responsive", "well_led"), "")
    from improve.db import write_tx

    with clock.frozen(NOW):
        async with write_tx():
            for kind in ("", "Residential homes", "Residential homes", "Homecare agencies"):
                rating = ratings.RatingIn(on, "good", blank, "cqc_api", service_type=kind)
                await ratings.store(None, service["id"], rating)
    assert [t for _, t, _ in await _stored(service["id"])] == [
        "",
        "Homecare agencies",
        "Residential homes",
    ]


def _row(on: str, kind: str, overall: str, safe: str = "") -> dict:
    kqs = dict.fromkeys(("safe", "effective", "caring", "responsive", "well_led"), "")
    return {
        "published_on": dt.date.fromisoformat(on),
        "service_type": kind,
        "overall": overall,
        **kqs,
        "safe": safe,
    }


def test_the_rating_a_case_opens_from_is_the_latest_of_each_kind():
    recovered = [_row("2025-01-01", "Residential homes", "inadequate")]
    recovered.append(_row("2026-01-01", "Residential homes", "good"))
    assert stages.rating_to_open(recovered) is None  # its latest is Good
    own = _row("2026-02-01", "", "inadequate")
    kind = _row("2026-03-01", "Supported living", "inadequate")
    assert stages.rating_to_open([kind, own]) is own  # the location's own first
    kq_only = _row("2026-04-01", "Homecare agencies", "requires_improvement", safe="inadequate")
    not_rated = _row("2026-04-01", "", "")
    assert stages.rating_to_open([kq_only, kind, not_rated]) is kind  # Inadequate overall first
    assert stages.rating_to_open([kq_only, not_rated]) is kq_only
