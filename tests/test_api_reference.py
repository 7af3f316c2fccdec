"""The API reference at /schema: the app's own OpenAPI document as one server-rendered page."""

from __future__ import annotations

import re

from improve.api.reference import limits_of, reference, type_of

DOCUMENT = {
    "info": {"title": "t", "version": "1", "description": "d"},
    "paths": {
        "/api/v1/cases/{case_id}": {
            "patch": {
                "summary": "Change a case",
                "security": [{"BearerToken": []}],
                "parameters": [
                    {"name": "case_id", "in": "path", "required": True,
                     "schema": {"type": "integer", "minimum": 1.0}},
                ],
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CasePatch"}}}},
                "responses": {
                    "200": {"content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/CaseOut"}}}},
                    "409": {}, "400": {},
                },
            },
            "get": {"summary": "One case", "responses": {"200": {}}},
        },
        "/healthz": {"get": {"summary": "Alive", "responses": {"204": {}}}},
    },
    "components": {"schemas": {
        "Stage": {"type": "string", "enum": ["assessing", "closed"]},
        "CasePatch": {
            "type": "object", "required": ["version"],
            "properties": {
                "version": {"type": "integer"},
                "stage": {"oneOf": [{"$ref": "#/components/schemas/Stage"}, {"type": "null"}]},
                "notes": {"type": "string", "maxLength": 500, "default": ""},
            },
        },
    }},
}  # fmt: skip


def test_types_read_as_words_and_link_to_their_shape():
    assert type_of({"type": "integer"}) == {"text": "integer", "ref": None}
    assert type_of({"type": "string", "format": "date"})["text"] == "date"
    named = type_of({"$ref": "#/components/schemas/CaseOut"})
    assert named == {"text": "CaseOut", "ref": "CaseOut"}
    listed = type_of({"type": "array", "items": {"$ref": "#/components/schemas/NoteOut"}})
    assert listed == {"text": "list of NoteOut", "ref": "NoteOut"}
    either = type_of({"oneOf": [{"type": "integer"}, {"type": "null"}]})
    assert either["text"] == "integer or null"
    mapped = type_of({"type": "object", "additionalProperties": {"type": "string"}})
    assert mapped["text"] == "map of string"
    assert type_of({})["text"] == "any"


def test_limits_read_as_words():
    assert limits_of({"minLength": 1, "maxLength": 200.0}) == [
        "at least 1 characters",
        "at most 200 characters",
    ]
    assert limits_of({"enum": ["red", "amber"], "default": "red"}) == [
        "one of red, amber",
        "default red",
    ]
    assert limits_of({"default": ""}) == []  # an empty default says nothing


def test_operations_are_grouped_by_resource_in_method_order():
    page = reference(DOCUMENT)
    groups = dict(page["groups"])
    assert list(groups) == ["cases", "healthz"]
    get, patch = groups["cases"]
    assert (get["method"], patch["method"]) == ("GET", "PATCH")
    assert patch["token"] and not get["token"]
    assert patch["parameters"][0]["limits"] == ["at least 1"]
    assert patch["body"] == {"media": "application/json", "text": "CasePatch", "ref": "CasePatch"}
    assert (patch["status"], patch["returns"]["ref"]) == ("200", "CaseOut")
    assert patch["errors"] == ["400", "409"]
    assert groups["healthz"][0]["returns"] is None
    shapes = {s["name"]: s for s in page["shapes"]}
    assert shapes["Stage"]["allowed"] == ["assessing", "closed"]
    fields = {f["name"]: f for f in shapes["CasePatch"]["fields"]}
    assert fields["version"]["required"] and not fields["stage"]["required"]
    assert fields["stage"]["type"] == {"text": "Stage or null", "ref": "Stage"}
    assert fields["notes"]["limits"] == ["at most 500 characters"]


async def test_the_page_shows_every_operation_and_every_link_lands(client):
    document = (await client.get("/schema/openapi.json")).json()
    page = await client.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "<script" not in html.replace('<script src="/static/htmx.min.js" defer></script>', "")
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()}</span> <code>{path}</code>" in html, (method, path)
    ids = set(re.findall(r'id="([^"]+)"', html))
    targets = set(re.findall(r'href="#([^"]+)"', html))
    assert targets and targets <= ids, targets - ids
    assert {f"shape-{name}" for name in document["components"]["schemas"]} <= ids


async def test_request_fields_state_the_values_the_domain_accepts(client):
    from improve.cases.domain import FINDING_STATUSES
    from improve.plans.domain import ACTION_STATUSES
    from improve.plans.playbooks import THEMES
    from improve.reviews.domain import RAG

    shapes = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    assert shapes["ActionPatch"]["properties"]["status"]["enum"] == list(ACTION_STATUSES)
    assert shapes["CustomAction"]["properties"]["theme"]["enum"] == list(THEMES)
    assert shapes["ReviewBody"]["properties"]["overall_rag"]["enum"] == list(RAG)
    assert shapes["FindingPatch"]["properties"]["status"]["enum"] == list(FINDING_STATUSES)
    page = (await client.get("/schema")).text
    assert "one of not_started, in_progress, done, verified, blocked" in page
    assert "blocked needs a reason" in page  # the field's description, in words


async def test_a_value_outside_them_is_still_refused_by_the_domain_naming_the_field(world, client):
    """The enums only document: a wrong value gets the same answer it always had."""
    from conftest import api_token, viewer_of

    from improve.accounts.tables import OrgKind, Role
    from improve.cases import domain as cases
    from improve.plans import domain as plans

    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    me = viewer_of(manager)
    await cases.record_rating(
        me, service["id"], {"published_on": "2026-01-05", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, service["id"])
    [action] = await plans.commit(
        me,
        case["id"],
        [],
        [{"title": "Fix MAR charts", "theme": "staffing", "due_on": "2026-12-30"}],
    )
    bearer = {"Authorization": f"Bearer {await api_token(manager)}"}
    answer = await client.patch(
        f"/api/v1/actions/{action['id']}", json={"version": 1, "status": "bogus"}, headers=bearer
    )
    assert answer.status_code == 422  # the domain's Invalid, as before
    assert [e["field"] for e in answer.json()["errors"]] == ["status"]
