"""Kept views (improve.snapshots): the data stamp moves with every change the database
commits, whoever makes it, and a view is served again only while it has not moved."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from conftest import viewer_of
from piccolo.querystring import QueryString
from test_portfolio import NOW, _estate

from improve import access, clock, db, snapshots
from improve.accounts import sessions
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.plans.tables import Action, Plan
from improve.portfolio import domain as portfolio
from improve.services.tables import Service


async def _stamp() -> tuple[str, int]:
    stamp = await snapshots.current()
    assert stamp is not None, "improve migrate installs the stamp"
    return stamp


async def _triggered_tables() -> set[str]:
    return await snapshots.triggered_tables(db.engine())


async def test_every_table_but_the_few_no_view_reads_moves_the_stamp():
    engine = db.engine()
    tables = set(await snapshots.tables_of(engine))
    stamped = set(await snapshots.stamped_tables(engine))
    assert await _triggered_tables() == stamped
    # the exceptions are real tables (a renamed one would silently be stamped again)
    assert snapshots.UNSTAMPED <= tables
    assert {"plan_action", "improvement_case", "service", "measure_summary"} <= stamped
    assert not stamped & snapshots.UNSTAMPED


async def test_a_table_without_the_trigger_turns_keeping_off():
    """A migration applied without `improve migrate` adds a table the stamp does not
    see: views over it could go stale, so none are kept until the triggers are made."""
    engine = db.engine()
    await engine.run_ddl("CREATE TABLE unstamped_newcomer (id INTEGER PRIMARY KEY)")
    try:
        assert await snapshots.detect(engine) is False
        assert await snapshots.current() is None
        await snapshots.install(engine)
        assert await snapshots.detect(engine) is True
    finally:
        await engine.run_ddl("DROP TABLE unstamped_newcomer")
    assert await snapshots.detect(engine) is True


async def test_installing_again_changes_nothing():
    before = await _stamp()
    assert await snapshots.install(db.engine()) == len(await _triggered_tables())
    assert await _stamp() == before


async def test_a_committed_change_moves_the_stamp_and_a_rolled_back_one_does_not(world):
    provider = await world.org(OrgKind.PROVIDER)
    before = await _stamp()
    with pytest.raises(RuntimeError):
        async with db.write_tx():
            await Service.update({Service.name: "Renamed"}).where(
                Service.provider == provider["id"]
            )
            raise RuntimeError("changed my mind")
    assert await _stamp() == before
    # raw SQL, outside any helper of ours, is counted by the database itself
    await db.engine().run_querystring(
        QueryString("UPDATE organisation SET name = {} WHERE id = {}", "Renamed", provider["id"])
    )
    after = await _stamp()
    assert after[0] == before[0] and after[1] > before[1]


async def test_logging_in_and_browsing_do_not_throw_views_away(world):
    user = await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD)
    token = await sessions.start(user["id"])
    before = await _stamp()
    assert await sessions.viewer_for(token) is not None
    await sessions.end(token)
    assert await _stamp() == before


async def test_the_portfolio_is_kept_until_the_data_changes(world):
    estate = await _estate(world, 3)
    viewer = estate["commissioner"]
    snapshots.VIEWS.clear()
    with clock.frozen(NOW):
        first = await portfolio.commissioner_view(viewer)
        hits = snapshots.VIEWS.hits
        again = await portfolio.commissioner_view(viewer, portfolio.Filters(sort="name"))
        assert snapshots.VIEWS.hits == hits + 1  # sorted from the kept rows
        assert {r["id"] for r in again} == {r["id"] for r in first}
        assert {r["progress"] for r in first} == {50}
        # a manager finishes an action of the first home: the next look shows it
        case = (await portfolio._cases(viewer))[0]
        await Action.update({Action.status: "done", Action.done_on: NOW.date()}).where(
            Action.plan.is_in(Plan.select(Plan.id).where(Plan.case == case["id"]))
            & (Action.status == "in_progress")
        )
        changed = {r["case_id"]: r for r in await portfolio.commissioner_view(viewer)}
    assert changed[case["id"]]["progress"] == 75
    assert changed[case["id"]]["overdue"] == 0


async def test_a_new_day_computes_again(world):
    estate = await _estate(world, 2)
    viewer = estate["commissioner"]
    with clock.frozen(NOW):
        today = await portfolio.commissioner_view(viewer)
    with clock.frozen(NOW + dt.timedelta(days=1)):
        tomorrow = await portfolio.commissioner_view(viewer)
    assert [r["days_since_inadequate"] + 1 for r in today] == [
        r["days_since_inadequate"] for r in tomorrow
    ]


async def test_nothing_is_kept_inside_a_write_transaction(world):
    estate = await _estate(world, 2)
    viewer = estate["lead"]
    snapshots.VIEWS.clear()
    with pytest.raises(RuntimeError):
        async with db.write_tx():
            await Service.update({Service.name: "Not for keeping"}).where(
                Service.id == estate["ids"][0]
            )
            view = await portfolio.quality_view(viewer)
            assert "Not for keeping" in {h["name"] for h in view["homes"]}
            raise RuntimeError("rolled back")
    assert not snapshots.VIEWS.kept
    view = await portfolio.quality_view(viewer)
    assert "Not for keeping" not in {h["name"] for h in view["homes"]}


async def test_a_case_out_of_scope_is_never_served_from_another_viewers_view(world):
    estate = await _estate(world, 1)
    case = (await portfolio._cases(estate["lead"]))[0]
    assert (await cases.case_view(estate["lead"], case["id"]))["case"]["id"] == case["id"]
    stranger = viewer_of(await world.user(await world.org(OrgKind.PROVIDER), Role.QUALITY_LEAD))
    from improve.errors import NotFound

    with pytest.raises(NotFound):
        await cases.case_view(stranger, case["id"])


def test_viewers_share_kept_views_only_when_they_see_the_same_services():
    def viewer(role: Role, user: int, org: int) -> access.Viewer:
        return access.Viewer(user, "x@example.org", "X", role, org, "Org", OrgKind.PROVIDER)

    same_council = viewer(Role.COMMISSIONER, 1, 7), viewer(Role.COMMISSIONER, 2, 7)
    assert access.scope_key(same_council[0]) == access.scope_key(same_council[1])
    assert access.scope_key(viewer(Role.COMMISSIONER, 1, 7)) != access.scope_key(
        viewer(Role.COMMISSIONER, 1, 8)
    )
    # registered managers see the services they manage: never shared
    assert access.scope_key(viewer(Role.REGISTERED_MANAGER, 1, 7)) != access.scope_key(
        viewer(Role.REGISTERED_MANAGER, 2, 7)
    )
    assert access.scope_key(viewer(Role.QUALITY_LEAD, 1, 7)) != access.scope_key(
        viewer(Role.ADMIN, 1, 7)
    )


def test_a_different_state_of_the_data_empties_the_kept_views():
    views = snapshots.Views()
    budget = 2 * len(pickle.dumps(1, protocol=pickle.HIGHEST_PROTOCOL))  # two small numbers
    views.put(("a", 5), "x", 1, budget)
    views.put(("a", 5), "y", 2, budget)
    views.put(("a", 5), "z", 3, budget)  # over the budget: the least recently used goes
    assert views.get(("a", 5), "x") is None and views.get(("a", 5), "z") == 3
    assert views.size <= budget
    views.put(("a", 5), "big", list(range(100)), budget)  # larger than the budget: not kept
    assert views.get(("a", 5), "big") is None and views.get(("a", 5), "z") == 3
    views.put(("a", 4), "x", 9, budget)  # an older version: a request that read it early
    assert views.get(("a", 5), "z") == 3 and views.get(("a", 4), "x") is None
    views.put(("b", 4), "x", 10, budget)  # another database altogether
    assert views.get(("a", 4), "x") is None and views.get(("b", 4), "x") == 10


async def test_no_memory_for_kept_views_computes_every_time(world):
    from dataclasses import replace

    from improve import settings

    estate = await _estate(world, 1)
    snapshots.VIEWS.clear()
    before = settings.get_settings()
    settings.use(replace(before, kept_views_mb=0))
    try:
        await portfolio.quality_view(estate["lead"])
        await portfolio.quality_view(estate["lead"])
    finally:
        settings.use(before)
    assert not snapshots.VIEWS.kept


async def test_a_kept_case_page_carries_each_visitors_own_csrf_token(world, app):
    import re

    from conftest import http_client, log_in

    estate = await _estate(world, 1)
    case = (await portfolio._cases(estate["lead"]))[0]
    second_lead = await world.user(
        {"id": estate["lead_row"]["organisation"]}, Role.QUALITY_LEAD, "Second lead"
    )
    tokens, pages = [], []
    for user in (estate["lead_row"], second_lead):
        async with http_client(app) as client:
            await log_in(client, user)
            for _ in range(2):  # the second is served from the kept page
                page = await client.get(f"/cases/{case['id']}")
                assert page.status_code == 200
                assert "<!--csrf-input-->" not in page.text
                found = set(re.findall(r'name="_csrf_token" value="([^"]+)"', page.text))
                assert len(found) == 1, "every form has the token"
                tokens.append(found.pop())
                pages.append(page.text)
    assert tokens[0] == tokens[1] and tokens[2] == tokens[3]
    assert tokens[0] != tokens[2], "one visitor's token is never shown to another"
    # the page moves on as soon as the data does
    await Service.update({Service.name: "Renamed home"}).where(Service.id == case["service"])
    async with http_client(app) as client:
        await log_in(client, estate["lead_row"])
        assert "Renamed home" in (await client.get(f"/cases/{case['id']}")).text
