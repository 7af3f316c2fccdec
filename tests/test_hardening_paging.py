"""Paging is bounded everywhere (issue 15 point 7.3): on every route that pages, a page
size outside 1..200, an offset outside 0..1,000,000 or a page number outside 1..10,000
answers 400 naming the parameter, never a huge page and never a 500.
"""

from __future__ import annotations

import inspect

import pytest
from conftest import api_token, log_in, viewer_of

from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.web.params import MAX_LIMIT, MAX_OFFSET, MAX_PAGE

PAGING = {"limit", "offset", "page"}
API = [
    "/api/v1/services",
    "/api/v1/services/{service_id}/ratings",
    "/api/v1/cases",
    "/api/v1/cases/{case_id}/findings",
    "/api/v1/cases/{case_id}/history",
    "/api/v1/cases/{case_id}/reviews",
]
PAGES = ["/cases/{case_id}/activity"]

OUT_OF_RANGE = [
    ("limit", "0"),
    ("limit", "-1"),
    ("limit", str(MAX_LIMIT + 1)),
    ("limit", "100000"),
    ("limit", str(10**30)),
    ("limit", "lots"),
    ("offset", "-1"),
    ("offset", str(MAX_OFFSET + 1)),
    ("offset", str(2**63)),
    ("offset", str(10**30)),
    ("offset", "later"),
]
PAGE_OUT_OF_RANGE = [
    ("page", "0"),
    ("page", "-3"),
    ("page", str(MAX_PAGE + 1)),
    ("page", str(10**30)),
    ("page", "next"),
]


def test_every_paged_route_is_checked_here(app):
    paged = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if PAGING & set(inspect.signature(handler.fn).parameters):
                paged.add(route.path.replace(":int}", "}"))
    assert paged == set(API) | set(PAGES)


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    home = await world.service(provider, manager)
    me = viewer_of(manager)
    await cases.record_rating(
        me, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
    )
    case = await cases.open_case(me, home["id"])
    return {"manager": manager, "ids": {"service_id": home["id"], "case_id": case["id"]}}


@pytest.mark.parametrize("path", API)
async def test_api_paging_out_of_range_is_a_400_naming_the_parameter(client, scene, path):
    auth = {"Authorization": f"Bearer {await api_token(scene['manager'])}"}
    url = path.format(**scene["ids"])
    wrong = {}
    for name, value in OUT_OF_RANGE:
        response = await client.get(url, params={name: value}, headers=auth)
        body = response.json()
        fields = [e.get("field") for e in body.get("errors", [])]
        if response.status_code != 400 or name not in fields:
            wrong[f"{name}={value}"] = (response.status_code, body)
    assert wrong == {}
    for params in ({"limit": MAX_LIMIT, "offset": MAX_OFFSET}, {"limit": 1, "offset": 0}):
        response = await client.get(url, params=params, headers=auth)
        assert response.status_code == 200, params
        assert response.json()["limit"] == params["limit"]


@pytest.mark.parametrize("path", PAGES)
async def test_page_numbers_out_of_range_are_a_400_naming_the_parameter(client, scene, path):
    await log_in(client, scene["manager"])
    url = path.format(**scene["ids"])
    wrong = {}
    for name, value in PAGE_OUT_OF_RANGE:
        response = await client.get(url, params={name: value})
        if response.status_code != 400 or f"<strong>{name}</strong>" not in response.text:
            wrong[f"{name}={value}"] = response.status_code
    assert wrong == {}
    for page in (1, MAX_PAGE):
        assert (await client.get(url, params={"page": page})).status_code == 200
