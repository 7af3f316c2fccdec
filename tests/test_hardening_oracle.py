"""No id oracle (issue 15 point 7.2): an id that exists in another organisation answers
exactly as an id that does not exist at all, on every route with an id (pages and API):
the same status and the same body, once the request id and CSRF token are set aside.

The routes, their bodies and the two organisations' rows (a case, finding, action,
evidence, review and self-assessment each) come from the access matrix, so a route added
there is checked here too.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import viewer_of
from test_access_matrix import (  # noqa: F401 (scene is a fixture used by name)
    MATRIX,
    SESSION_ENDING,
    _client_for,
    _concrete,
    _fill,
    _path_ids,
    _request,
    scene,
)
from test_org_playbooks import OWN

from improve.accounts.tables import OrgKind, Role
from improve.plans import org_playbooks

MISSING = 2_000_000_000  # an id no row has (within the id columns' range)
ID_NAMES = (
    "service_id",
    "case_id",
    "finding_id",
    "action_id",
    "evidence_id",
    "review_id",
    "assessment_id",
    "token_id",
    "org_id",
    "user_id",
    "message_id",
)
WITH_IDS = [
    e
    for e in MATRIX
    if any("{" + name in e.path for name in ID_NAMES) and (e.method, e.path) not in SESSION_ENDING
]


def _shape(response) -> tuple[int, Any]:
    """Status and body, without what differs between any two requests (the request id,
    the CSRF token, and the path itself where an answer repeats it)."""
    kind = response.headers.get("content-type", "")
    text = response.text.replace(response.request.url.path, "<path>")
    if "json" in kind:
        body = json.loads(text or "null")
        if isinstance(body, dict):
            body.pop("request_id", None)
        return response.status_code, body
    text = re.sub(r"[0-9a-f]{16}", "<rid>", text)  # request ids
    text = re.sub(r'(_csrf_token" value=|"X-CSRFToken": )"[^"]*"', r"\1<csrf>", text)
    location = response.headers.get("location", "")
    return response.status_code, (location, text)


@pytest.mark.parametrize("role", ["quality_lead", "registered_manager", "commissioner"])
async def test_another_organisations_id_answers_like_one_that_does_not_exist(
    app,
    scene,  # noqa: F811 (the access matrix's fixture, imported above)
    role,
):
    user = scene["people"][role]
    client, bearer, csrf = await _client_for(app, user)
    differ = []
    try:
        for entry in WITH_IDS:
            theirs = await _path_ids(entry, role, False, scene)
            missing = {k: (MISSING if k in ID_NAMES else v) for k, v in theirs.items()}
            bodies = [_fill(entry.body, theirs)]
            if entry.method != "GET":
                bodies.append({"__form__": {}} if entry.path.startswith("/api/") else {})
            for body in bodies:
                answers = []
                for ids in (theirs, missing):
                    url = _concrete(entry.path, ids)
                    answers.append(_shape(await _request(client, entry, url, body, bearer, csrf)))
                if answers[0] != answers[1]:
                    differ.append(
                        f"{entry.method} {entry.path} body={body}: another organisation's id "
                        f"{answers[0]!r:.300} / no such id {answers[1]!r:.300}"
                    )
    finally:
        await client.aclose()
    assert differ == [], "\n".join(differ)


async def test_another_organisations_playbook_answers_like_one_that_does_not_exist(app, world):
    theirs = await world.org(OrgKind.PROVIDER)
    await org_playbooks.upload(viewer_of(await world.user(theirs, Role.QUALITY_LEAD)), OWN)
    me = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    client, bearer, _ = await _client_for(app, me)
    headers = {"Authorization": f"Bearer {bearer}"}
    try:
        for path in ("/playbooks/{}", "/api/v1/playbooks/{}"):
            answers = [
                _shape(await client.get(path.format(pid), headers=headers))
                for pid in ("oak-falls", "no-such-book")
            ]
            assert answers[0][0] == 404
            assert answers[0] == answers[1], path
    finally:
        await client.aclose()
