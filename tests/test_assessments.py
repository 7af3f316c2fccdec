"""Self-assessment: stored with its projection, every field checked, an open breach caps
the overall, and the pages show the projection beside the real rating."""

from __future__ import annotations

import pytest
from conftest import log_in, viewer_of

from improve import framework
from improve.accounts.tables import OrgKind, Role
from improve.assessments import domain as assessments
from improve.cases import domain as cases
from improve.errors import Forbidden, Invalid


def _all(score: int) -> dict[str, str]:
    return {f"score.{i}": str(score) for i in framework.get("saf").items}


@pytest.fixture
async def setting(world):
    provider = await world.org(OrgKind.PROVIDER)
    council = await world.org(OrgKind.COMMISSIONER)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    home = await world.service(provider, manager, (council,))
    return {
        "manager": manager,
        "viewer": viewer_of(manager),
        "commissioner": viewer_of(await world.user(council, Role.COMMISSIONER)),
        "home": home,
    }


async def test_an_assessment_is_kept_with_its_projection(setting):
    data = {"assessed_on": "2026-10-01", **_all(3), "evidence.safe.medicines": "MAR audit 98%"}
    saved = await assessments.record(setting["viewer"], setting["home"]["id"], data)
    assert saved["projected_overall"] == "good"
    assert saved["results"]["safe"] == {"rating": "good", "percent": 75}
    assert saved["evidence"]["safe.medicines"] == "MAR audit 98%"
    assert len(saved["scores"]) == 34
    again = await assessments.record(
        setting["viewer"], setting["home"]["id"], {"assessed_on": "2026-11-01", **_all(2)}
    )
    past = await assessments.history_of(setting["viewer"], setting["home"]["id"])
    assert [p["id"] for p in past] == [again["id"], saved["id"]]  # every one kept, newest first
    assert again["projected_overall"] == "requires_improvement"


async def test_a_limiter_shows_in_the_projection(setting):
    # safe: 7 statements at 3 and one at 1 = 22/32 = 68.75% (Good band) -> limited to RI
    data = {"assessed_on": "2026-10-01", **_all(3), "score.safe.medicines": "1"}
    saved = await assessments.record(setting["viewer"], setting["home"]["id"], data)
    safe = saved["result"].key_questions["safe"]
    assert safe.shown_percent == 69 and safe.band == "good"
    assert safe.rating == "requires_improvement" and safe.limiter
    # one key question RI and four Good: Good overall (principle 4)
    assert saved["projected_overall"] == "good"


async def test_an_open_breach_caps_the_overall(setting, world):
    admin = viewer_of(await world.admin())
    home = setting["home"]["id"]
    await cases.record_rating(admin, home, {"published_on": "2026-04-30", "overall": "Inadequate"})
    case = await cases.open_case(admin, home)
    await cases.add_finding(
        admin, case["id"], {"regulation": "12", "key_question": "safe", "description": "Unsafe"}
    )
    saved = await assessments.record(
        setting["viewer"], home, {"assessed_on": "2026-10-01", **_all(4)}
    )
    assert saved["breach"] is True
    assert saved["projected_overall"] == "requires_improvement"
    assert "breach" in saved["result"].overall.principle.lower()


async def test_bad_fields_are_named_and_nothing_is_saved(setting):
    with pytest.raises(Invalid) as bad:
        await assessments.record(
            setting["viewer"],
            setting["home"]["id"],
            {"assessed_on": "2999-01-01", "score.safe.medicines": "5", "score.made.up": "3"},
        )
    assert set(bad.value.errors) == {"assessed_on", "score.safe.medicines", "score.made.up"}
    with pytest.raises(Invalid) as bad:
        await assessments.record(
            setting["viewer"], setting["home"]["id"], {"assessed_on": "2026-01-01"}
        )
    assert "scores" in bad.value.errors
    assert await assessments.history_of(setting["viewer"], setting["home"]["id"]) == []


async def test_commissioners_read_but_do_not_assess(setting):
    with pytest.raises(Forbidden):
        await assessments.record(
            setting["commissioner"], setting["home"]["id"], {"assessed_on": "2026-01-01"}
        )


async def test_the_pages_show_the_projection_beside_the_rating(app, client, setting):
    home = setting["home"]["id"]
    saved = await assessments.record(
        setting["viewer"],
        home,
        {"assessed_on": "2026-10-01", **_all(3), "score.safe.medicines": "1"},
    )
    await log_in(client, setting["manager"])
    page = await client.get(f"/services/{home}/assessments")
    assert page.status_code == 200
    assert "69%" in page.text and "Limited to Requires improvement" in page.text
    assert "rounded half up" in page.text
    form = await client.get(f"/services/{home}/assessments/new")
    assert 'value="1" selected' in form.text  # prefilled from the last assessment
    detail = await client.get(f"/assessments/{saved['id']}")
    assert "Medicines optimisation" in detail.text


async def test_an_assessment_without_a_date_is_refused_by_name(setting):
    with pytest.raises(Invalid) as bad:
        await assessments.record(setting["viewer"], setting["home"]["id"], _all(3))
    assert bad.value.errors == {"assessed_on": "is required"}
