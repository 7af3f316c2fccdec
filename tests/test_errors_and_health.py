"""Clear answers to bad input, no stack traces, request ids, health, security headers."""

from __future__ import annotations

import logging

from conftest import api_token, http_client
from litestar import get

from improve.accounts.tables import OrgKind, Role
from improve.app import create_app


async def test_api_validation_names_the_field(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    headers = {"Authorization": f"Bearer {await api_token(manager)}"}
    response = await client.patch(
        f"/api/v1/services/{service['id']}", json={"beds": "lots"}, headers=headers
    )
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["beds"]
    unknown = await client.patch(
        f"/api/v1/services/{service['id']}", json={"colour": "red"}, headers=headers
    )
    assert unknown.status_code == 400 and "colour" in unknown.text


async def test_api_domain_errors_name_the_field(client, world):
    admin = await world.admin()
    provider = await world.org(OrgKind.PROVIDER)
    headers = {"Authorization": f"Bearer {await api_token(admin)}"}
    response = await client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "email": "not-an-email",
            "name": "Jo",
            "organisation": provider["id"],
            "role": "registered_manager",
            "password": "long enough password",
        },
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "email", "message": "is not a valid email address"}
    ]
    wrong_kind = await client.post(
        "/api/v1/users",
        headers=headers,
        json={
            "email": "jo@example.org",
            "name": "Jo",
            "organisation": provider["id"],
            "role": "commissioner",
            "password": "long enough password",
        },
    )
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["errors"][0]["field"] == "role"


async def test_home_care_cannot_have_beds(client, world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    service = await world.service(provider, manager)
    headers = {"Authorization": f"Bearer {await api_token(manager)}"}
    response = await client.patch(
        f"/api/v1/services/{service['id']}",
        headers=headers,
        json={"service_type": "home_care", "beds": 12},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "beds", "message": "only care homes have beds"}]


@get("/boom", include_in_schema=False)
async def boom() -> str:
    raise RuntimeError("secret internals")


@get("/api/v1/boom", include_in_schema=False)
async def api_boom() -> str:
    raise RuntimeError("secret internals")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.text = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.text += self.format(record) + "\n"


async def test_unexpected_errors_show_a_request_id_and_no_trace():
    app = create_app()  # (re)configures logging, so listen after it
    app.register(boom)
    app.register(api_boom)
    caplog = _Collect()
    logging.getLogger("improve.errors").addHandler(caplog)
    async with http_client(app) as client:
        page = await client.get("/boom")
        api = await client.get("/api/v1/boom")
    assert page.status_code == 500 and api.status_code == 500
    for response in (page, api):
        assert "secret internals" not in response.text and "Traceback" not in response.text
        request_id = response.headers["x-request-id"]
        assert request_id in response.text
        assert request_id in caplog.text and "secret internals" in caplog.text
    logging.getLogger("improve.errors").removeHandler(caplog)


async def test_health_endpoints(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_security_headers_on_pages_and_on_framework_404s(client):
    for path in ("/login", "/no-such-page"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"


async def test_not_found_page_is_friendly(client):
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.text and "Request id" in response.text


async def test_openapi_documents_the_api_and_bearer_auth(client):
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/services/{service_id}" in schema["paths"]
    assert schema["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    assert not any(p.startswith("/admin") or p == "/" for p in schema["paths"])


async def test_user_text_is_escaped_in_pages(client, world):
    from conftest import log_in

    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER, name="<script>alert(1)</script>")
    await world.service(provider, manager, name="<b>Bold</b> home")
    await log_in(client, manager)
    page = (await client.get("/")).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<b>Bold</b>" not in page
