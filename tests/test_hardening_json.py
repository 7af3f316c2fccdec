"""Deeply nested JSON is bad input, not a crash (issue 15 point 7.4): on every API route
that takes a body, 100,000 nested arrays or objects answer 400 with a clear message, and
values nested just under the decoder's limit never give a 500 either; the JSON files
the pages import answer the same way.
"""

from __future__ import annotations

import inspect

import pytest
from conftest import TEST_DATABASE_URL, api_token, csrf_token, log_in
from test_access_matrix import (  # noqa: F401 (scene is a fixture used by name)
    MATRIX,
    _concrete,
    _fill,
    _path_ids,
    scene,
)
from test_cli import improve

DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def _body_routes(app) -> list[tuple[str, str]]:
    """The API's operations that read a body (their handler takes `data`)."""
    return sorted(
        (method, route.path)
        for route in app.routes
        if route.path.startswith("/api/")
        for handler in getattr(route, "route_handlers", ())
        if "data" in inspect.signature(handler.fn).parameters
        for method in handler.http_methods
    )


async def test_deeply_nested_json_is_a_400_on_every_api_route(
    app,
    client,
    scene,  # noqa: F811 (the access matrix's fixture, imported above)
):
    admin = scene["people"]["admin"]
    auth = {"Authorization": f"Bearer {await api_token(admin)}", "Content-Type": "application/json"}
    wrong = {}
    routes = _body_routes(app)
    assert ("POST", "/api/v1/imports/cqc-locations") in routes
    for method, path in routes:
        entry = next(e for e in MATRIX if (e.method, e.path) == (method, path))
        url = _concrete(path, await _path_ids(entry, "admin", True, scene))
        for body in (DEEP_ARRAYS, DEEP_OBJECTS):
            response = await client.request(method, url, content=body, headers=auth)
            detail = response.json().get("detail", "")
            multipart = isinstance(entry.body, dict) and "__form__" in entry.body
            if response.status_code != 400 or not (multipart or "nested too deeply" in detail):
                wrong[f"{method} {path} {body[:2]!r}"] = (response.status_code, detail)
    assert wrong == {}


async def test_values_nested_just_under_the_limit_never_give_a_500(
    app,
    client,
    scene,  # noqa: F811
):
    """Each field of each route's body in turn holds 900 nested lists (the decoder accepts
    them): the route refuses them or ignores them, and never fails."""
    admin = scene["people"]["admin"]
    auth = {"Authorization": f"Bearer {await api_token(admin)}"}
    failed = {}
    for method, path in _body_routes(app):
        entry = next(e for e in MATRIX if (e.method, e.path) == (method, path))
        ids = await _path_ids(entry, "admin", True, scene)
        body = _fill(entry.body, ids)
        if not isinstance(body, dict) or "__form__" in body:
            continue
        for field in body:
            changed = {**body, field: _nested(900)}
            if field == "records":
                changed = {"records": [{"name": _nested(900), "locationId": _nested(900)}]}
            response = await client.request(
                method, _concrete(path, ids), json=changed, headers=auth
            )
            if response.status_code >= 500:
                failed[f"{method} {path} {field}"] = response.status_code
    assert failed == {}


@pytest.mark.parametrize("where", ["service", "admin"])
async def test_a_deeply_nested_json_file_is_refused_by_the_import_pages(
    client,
    scene,  # noqa: F811
    where,
):
    admin = scene["people"]["admin"]
    await log_in(client, admin)
    token = await csrf_token(client)
    url, form = {
        "service": (f"/services/{scene['home_a']['id']}/import", {}),
        "admin": ("/admin/imports", {"kind": "locations"}),
    }[where]
    for content in (DEEP_ARRAYS, DEEP_OBJECTS):
        response = await client.post(
            url,
            data={"_csrf_token": token, **form},
            files={"file": ("record.json", content, "application/json")},
        )
        assert response.status_code == 400, (where, content[:2])
        assert "nested too deeply" in response.text


def test_the_import_command_refuses_a_deeply_nested_file(tmp_path):
    (tmp_path / "deep.json").write_bytes(DEEP_ARRAYS)
    result = improve(
        "import-cqc", "deep.json", cwd=tmp_path, IMPROVE_DATABASE_URL=TEST_DATABASE_URL
    )
    assert result.returncode == 2, result.stderr
    assert "nested too deeply" in result.stderr and "Traceback" not in result.stderr
