"""Uploaded playbooks cannot stop the service (issue 15 point 7.1): a few hundred bytes of
YAML aliases ("billion laughs") are refused at once with a clear answer, nesting is
bounded, and a large legal upload is parsed off the event loop, so other requests go on.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import csrf_token, log_in, viewer_of
from test_org_playbooks import OWN

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.errors import Invalid
from improve.plans import org_playbooks
from improve.plans import playbooks as playbook_files
from improve.plans.tables import OrgPlaybook

# A playbook that is valid in every other way; its first step is nine to the seventh
# "lol"s once its aliases are expanded (the old loader accepted it after a second or so).
BOMB = """id: lol
theme: staffing
title: Lol
version: 1
a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
actions:
- id: staffing.lol
  title: Lol
  steps: [*g]
  why: Lol
  owner_role: registered_manager
  due_days: 7
  evidence: [Lol]
  regulations: ["18"]
  quality_statements: [safe.safe_staffing]
  answers: {regulations: ["18"]}
"""

ACTION = """  - id: staffing.big-{n}
    title: Daily huddle number {n}
    steps: [Review yesterday's falls, Agree who needs a sensor mat, Tell the night staff]
    why: Falls fell by a third when we started talking about them every day.
    owner_role: registered_manager
    due_days: 7
    evidence: [Huddle log]
    measure: falls
    regulations: ["12"]
    quality_statements: [safe.involving_people_risks]
    answers: {{quality_statements: [safe.involving_people_risks]}}
"""


def big_playbook(playbook_id: str) -> str:
    """A legal playbook just under the 512 KB limit (about 1,100 actions)."""
    text = f"id: {playbook_id}\ntheme: staffing\ntitle: Big\nversion: 1\nactions:\n"
    n = 0
    while len(text.encode()) + len(ACTION) + 10 < org_playbooks.MAX_BYTES:
        text += ACTION.format(n=n)
        n += 1
    return text


@pytest.fixture
async def lead(world):
    return await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)


async def test_an_alias_bomb_is_refused_at_once_naming_the_problem(lead):
    started = time.perf_counter()
    with pytest.raises(Invalid) as refused:
        await org_playbooks.upload(viewer_of(lead), BOMB, "lol.yaml")
    assert time.perf_counter() - started < 0.5
    assert "YAML anchors and aliases are not accepted (found &a on line 5)" in str(refused.value)
    assert await org_playbooks.visible_to(viewer_of(lead)) == []


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("id: &x lol\ntheme: staffing\n", "anchors and aliases"),  # an anchor never used
        ("id: x\nsteps: " + "[" * 200 + "]" * 200 + "\n", "nested more than 8 deep"),
        # libyaml (when PyYAML has it) stops at its own limit first, with its own words
        ("id: x\nsteps: " + "[" * 50_000 + "]" * 50_000 + "\n", "nest"),
    ],
)
async def test_anchors_and_deep_nesting_are_refused(lead, text, words):
    with pytest.raises(Invalid) as refused:
        await org_playbooks.upload(viewer_of(lead), text, "x.yaml")
    assert words in refused.value.errors["file"]


async def test_list_items_must_be_words_not_lists(lead):
    nested = OWN.replace("steps: [Review", "steps: [[Review, Again], Review")
    with pytest.raises(Invalid) as refused:
        await org_playbooks.upload(viewer_of(lead), nested, "x.yaml")
    assert "field 'steps'" in refused.value.errors["file"]


async def test_the_upload_page_answers_400_naming_the_aliases(client, lead):
    await log_in(client, lead)
    token = await csrf_token(client)
    started = time.perf_counter()
    response = await client.post(
        "/playbooks",
        data={"_csrf_token": token},
        files={"file": ("lol.yaml", BOMB.encode(), "application/yaml")},
    )
    assert time.perf_counter() - started < 2
    assert response.status_code == 400
    assert "YAML anchors and aliases are not accepted" in response.text


async def test_other_requests_go_on_while_a_large_upload_parses(client, lead, monkeypatch):
    """Health checks keep being answered while the parser works on a legal upload just under
    the size limit: some are answered between the moment parsing starts and the moment it
    ends, which cannot happen when it runs on the event loop."""
    parsing: list[float] = []
    real_parse = playbook_files.parse_text

    def timed_parse(text: str, source: str):
        parsing.append(time.perf_counter())
        try:
            return real_parse(text, source)
        finally:
            parsing.append(time.perf_counter())

    monkeypatch.setattr(playbook_files, "parse_text", timed_parse)
    await log_in(client, lead)
    token = await csrf_token(client)
    upload = asyncio.create_task(
        client.post(
            "/playbooks",
            data={"_csrf_token": token},
            files={"file": ("big.yaml", big_playbook("big").encode(), "application/yaml")},
        )
    )
    answered = []
    while not upload.done():
        assert (await client.get("/healthz")).status_code == 200
        answered.append(time.perf_counter())
        await asyncio.sleep(0.005)
    response = await upload
    assert response.status_code == 200 and "Playbook big version 1 added" in response.text
    began, ended = parsing[0], parsing[1]
    during = [t for t in answered if began < t < ended]
    assert len(during) >= 3, (ended - began, len(answered))


async def test_a_playbook_stored_before_the_rule_is_left_out_not_an_error(lead, caplog):
    """One uploaded before aliases were refused: pages go on without it, and the log says."""
    me = viewer_of(lead)
    await OrgPlaybook.insert(
        OrgPlaybook(
            organisation=me.organisation_id,
            playbook_id="lol",
            version=1,
            theme="staffing",
            title="Lol",
            source=BOMB,
            uploaded_by=me.user_id,
            uploaded_at=clock.now(),
        )
    )
    await org_playbooks.upload(me, OWN, "falls.yaml")
    assert [b.id for b in await org_playbooks.visible_to(me)] == ["oak-falls"]
    assert "stored playbook lol v1 is left out" in caplog.text
