"""A commissioner's monitoring of a service is its own: another commissioner of the same
service does not see its monitoring levels or visits in the case's history (activity
page, CSV, API, case file) nor on the briefing. The provider's people see every
commissioner's, as the briefing and the visits list always showed them: they have to
answer them."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from conftest import api_token, http_client, log_in, unique, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.cases import domain as cases
from improve.monitoring import domain as monitoring

NOW = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)


@pytest.fixture
async def scene(world):
    provider = await world.org(OrgKind.PROVIDER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    north = await world.org(OrgKind.COMMISSIONER, "North Council")
    south = await world.org(OrgKind.COMMISSIONER, "South ICB")
    home = await world.service(provider, manager, (north, south))
    people = {
        "manager": manager,
        "quality_lead": lead,
        "north": await world.user(north, Role.COMMISSIONER),
        "south": await world.user(south, Role.COMMISSIONER),
    }
    me = viewer_of(manager)
    levels = {}
    with clock.frozen(NOW):
        await cases.record_rating(
            me, home["id"], {"published_on": "2026-04-30", "overall": "Inadequate"}
        )
        case = await cases.open_case(me, home["id"])
        for key in ("north", "south"):
            viewer = viewer_of(people[key])
            level = await monitoring.add_level(
                viewer,
                {"name": unique(f"{key.title()} watch"), "rank": "3", "review_every_days": "28"},
            )
            await monitoring.set_level(viewer, home["id"], {"level": level["id"]})
            await monitoring.record_visit(
                viewer,
                home["id"],
                {
                    "visited_on": "2026-05-20",
                    "kind": "unannounced",
                    "outcome": "good",
                    "summary": f"{key} saw nothing to worry about",
                },
            )
            levels[key] = level["name"]
    return {
        "people": people,
        "case": case,
        "home": home,
        "levels": levels,
        "orgs": {"north": north["name"], "south": south["name"]},
    }


async def _history_everywhere(app, user: dict, case_id: int) -> dict[str, str]:
    """The case's history as this person reads it: page, CSV, API and case file."""
    token = {"Authorization": f"Bearer {await api_token(user)}"}
    async with http_client(app) as client:
        await log_in(client, user)
        out = {}
        for url in (
            f"/cases/{case_id}/activity",
            f"/cases/{case_id}/activity?entity=monitoring",
            f"/cases/{case_id}/activity?entity=visit",
            f"/cases/{case_id}/activity.csv",
            f"/cases/{case_id}/activity.csv?entity=monitoring",
            f"/cases/{case_id}",  # its recent activity
        ):
            response = await client.get(url)
            assert response.status_code == 200, url
            out[url] = response.text
        for url in (
            f"/api/v1/cases/{case_id}/history?limit=200",
            f"/api/v1/cases/{case_id}/history?entity=monitoring",
        ):
            response = await client.get(url, headers=token)
            assert response.status_code == 200, url
            out[url] = response.text
        made = await client.get(f"/cases/{case_id}/casefile.zip")
        with zipfile.ZipFile(io.BytesIO(made.content)) as zf:
            out["casefile history.csv"] = zf.read("history.csv").decode("utf-8-sig")
    return out


def _mentions(texts: dict[str, str], *needles: str) -> set[str]:
    return {where for where, text in texts.items() if any(n in text for n in needles)}


async def test_a_commissioner_sees_only_its_own_monitoring_in_the_history(app, scene):
    case_id = scene["case"]["id"]
    for me, other in (("north", "south"), ("south", "north")):
        seen = await _history_everywhere(app, scene["people"][me], case_id)
        # another commissioner's level (its name, its organisation's line) and visits
        leaked = _mentions(seen, scene["levels"][other], f"{scene['orgs'][other]}:")
        assert leaked == set(), me
        # its own are there, everywhere the history is
        own = _mentions(seen, scene["levels"][me])
        assert {
            f"/cases/{case_id}/activity",
            f"/cases/{case_id}/activity?entity=monitoring",
            f"/cases/{case_id}/activity.csv",
            f"/api/v1/cases/{case_id}/history?limit=200",
            "casefile history.csv",
        } <= own, me
        assert f"{scene['orgs'][me]}: Unannounced visit" in seen[f"/cases/{case_id}/activity"]


async def test_the_providers_people_see_every_commissioners_monitoring(app, scene):
    case_id = scene["case"]["id"]
    for role in ("manager", "quality_lead"):
        seen = await _history_everywhere(app, scene["people"][role], case_id)
        page = seen[f"/cases/{case_id}/activity"]
        for key in ("north", "south"):
            assert scene["levels"][key] in page, role
            assert f"{scene['orgs'][key]}: Unannounced visit" in page, role
            assert scene["levels"][key] in seen["casefile history.csv"], role


async def test_the_briefing_shows_a_commissioner_its_own_level_only(app, scene):
    home = scene["home"]["id"]
    for who, sees, hidden in (
        ("north", ["north"], ["south"]),
        ("south", ["south"], ["north"]),
        ("manager", ["north", "south"], []),
        ("quality_lead", ["north", "south"], []),
    ):
        async with http_client(app) as client:
            await log_in(client, scene["people"][who])
            page = (await client.get(f"/services/{home}/briefing")).text
        for key in sees:
            assert scene["levels"][key] in page, who
        for key in hidden:
            assert scene["levels"][key] not in page, who
            assert scene["orgs"][key] not in page, who
