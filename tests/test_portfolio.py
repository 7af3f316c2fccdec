"""Portfolio views: a commissioner's services and a quality team's homes, with real
numbers, filters, sorting, CSV, and a fixed number of queries whatever the size."""

from __future__ import annotations

import datetime as dt

from conftest import api_token, log_in, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.assessments.tables import SelfAssessment
from improve.cases.tables import Case
from improve.measures import summaries
from improve.measures.tables import MeasureValue
from improve.monitoring import domain as monitoring
from improve.plans.tables import Action, Plan
from improve.portfolio import domain as portfolio
from improve.reviews import domain as reviews_domain
from improve.reviews.tables import Review
from improve.services.tables import Commissioning, Rating, Service

TODAY = dt.date(2026, 9, 1)
NOW = dt.datetime(2026, 9, 1, 9, tzinfo=dt.UTC)


async def _estate(world, n: int) -> dict:
    """n homes of one provider, all commissioned by one council, each with an Inadequate
    rating, an open case, a plan of 4 actions (one done a month ago, one done this week,
    one overdue), a review, two self-assessments and 14 months of a measure. Written in
    bulk: the point is the size, not the journey."""
    provider = await world.org(OrgKind.PROVIDER, "Estate")
    council = await world.org(OrgKind.COMMISSIONER, "County")
    lead = await world.user(provider, Role.QUALITY_LEAD)
    commissioner = await world.user(council, Role.COMMISSIONER)
    now = clock.now()
    homes = await Service.insert(
        *[Service(name=f"Home {i:03d}", provider=provider["id"], created_at=now) for i in range(n)]
    ).returning(Service.id)
    ids = [h["id"] for h in homes]
    await Commissioning.insert(*[Commissioning(service=s, commissioner=council["id"]) for s in ids])
    ratings = await Rating.insert(
        *[
            Rating(
                service=s, published_on=dt.date(2026, 3, 1), overall="inadequate", created_at=now
            )
            for s in ids
        ]
    ).returning(Rating.id)
    cases = await Case.insert(
        *[
            Case(
                service=s,
                opening_rating=r["id"],
                stage="delivering",
                special_measures=i % 2 == 0,
                opened_on=dt.date(2026, 3, 2),
                published_on=dt.date(2026, 3, 1),
                expected_reinspection_on=dt.date(2026, 9, 1) + dt.timedelta(days=30),
                next_internal_review_on=dt.date(2026, 8, 20),  # missed
                next_commissioner_review_on=dt.date(2026, 9, 20),
                created_at=now,
            )
            for i, (s, r) in enumerate(zip(ids, ratings, strict=True))
        ]
    ).returning(Case.id)
    case_ids = [c["id"] for c in cases]
    plans = await Plan.insert(
        *[Plan(case=c, started_on=dt.date(2026, 3, 10), created_at=now) for c in case_ids]
    ).returning(Plan.id)
    actions = []
    for p in plans:
        for theme, status, due, done in (
            ("leadership", "verified", dt.date(2026, 7, 1), dt.date(2026, 7, 1)),
            ("staffing", "done", dt.date(2026, 9, 30), dt.date(2026, 8, 28)),
            ("staffing", "in_progress", dt.date(2026, 8, 1), None),
            ("cultural_change", "not_started", dt.date(2026, 12, 1), None),
        ):
            actions.append(
                Action(
                    plan=p["id"], theme=theme, title=f"{theme} {status}", status=status,
                    due_on=due, done_on=done, created_at=now,
                )
            )  # fmt: skip
    await Action.insert(*actions)
    await Review.insert(
        *[
            Review(
                case=c, audience="internal", held_on=dt.date(2026, 8, 1), overall_rag="amber",
                confidence="medium", recorded_at=now,
            )
            for c in case_ids
        ]
    )  # fmt: skip
    await reviews_domain.keep_summary()  # as recording each review does
    await SelfAssessment.insert(
        *[
            SelfAssessment(service=s, assessed_on=on, projected_overall=projected, created_at=now)
            for s in ids
            for on, projected in (
                (dt.date(2026, 6, 1), "inadequate"),
                (dt.date(2026, 8, 1), "requires_improvement"),
            )
        ]
    )
    values = [30, 31, 29, 32, 30, 31, 30, 29, 31, 30, 32, 30, 24, 23]
    await MeasureValue.insert(
        *[
            MeasureValue(
                service=s, measure="staff_turnover", month=dt.date(2025 + (m // 12), m % 12 + 1, 1),
                value=v, updated_at=now,
            )
            for s in ids
            for m, v in enumerate(values[:14])
        ]
    )  # fmt: skip
    await summaries.refresh(ids)  # as saving figures through the app does
    return {
        "ids": ids,
        "lead": viewer_of(lead),
        "commissioner": viewer_of(commissioner),
        "lead_row": lead,
        "commissioner_row": commissioner,
    }


async def test_the_commissioner_sees_each_service_with_real_numbers(world):
    estate = await _estate(world, 3)
    viewer = estate["commissioner"]
    await monitoring.add_default_levels(viewer)
    levels = {lv["name"]: lv["id"] for lv in await monitoring.levels_of(viewer.organisation_id)}
    with clock.frozen(NOW):
        await monitoring.set_level(viewer, estate["ids"][1], {"level": levels["Provider concerns"]})
        rows = await portfolio.commissioner_view(viewer)
    assert len(rows) == 3
    first = rows[0]  # most concern first: the provider-concerns home
    assert first["id"] == estate["ids"][1] and first["level"] == "Provider concerns"
    assert first["rating_label"] == "Inadequate"
    assert first["days_since_inadequate"] == (TODAY - dt.date(2026, 3, 1)).days
    assert first["days_to_reinspection"] == 30
    assert first["progress"] == 50  # 2 of 4 finished
    assert first["overdue"] == 1
    assert first["missed_reviews"] == 1
    assert first["last_review_rag"] == "amber"
    assert first["projected"] == "requires_improvement"
    # a month ago 1 of 4 was finished (25%): +25 points, and the projection rose a band
    assert first["trend"] == {"progress_points": 25, "projection_moved": 1, "word": "improving"}


async def test_filters_sorting_and_csv(world, app, client):
    estate = await _estate(world, 4)
    viewer = estate["commissioner"]
    with clock.frozen(NOW):
        special = await portfolio.commissioner_view(
            viewer, portfolio.Filters(special_measures=True)
        )
        assert len(special) == 2
        named = await portfolio.commissioner_view(viewer, portfolio.Filters(q="home 003"))
        assert [r["name"] for r in named] == ["Home 003"]
        by_name = await portfolio.commissioner_view(
            viewer, portfolio.Filters(sort="name", descending=True)
        )
        assert [r["name"] for r in by_name] == ["Home 003", "Home 002", "Home 001", "Home 000"]
    await log_in(client, estate["commissioner_row"])
    page = await client.get("/portfolio?special=1")
    assert page.status_code == 200 and page.text.count('scope="row"') == 2
    csv = await client.get("/portfolio.csv?sort=name")
    assert csv.content.startswith(b"\xef\xbb\xbf")  # the mark that makes Excel read UTF-8
    lines = csv.text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("Service,Provider,Local authority,Monitoring level")
    assert len(lines) == 5 and lines[1].startswith("Home 000")


async def test_the_level_filter_offers_every_level_the_organisation_defined(world, app, client):
    estate = await _estate(world, 2)
    viewer = estate["commissioner"]
    await monitoring.add_default_levels(viewer)
    levels = await monitoring.levels_of(viewer.organisation_id)
    names = [lv["name"] for lv in levels]
    ids = {lv["name"]: lv["id"] for lv in levels}
    with clock.frozen(NOW):
        await monitoring.set_level(viewer, estate["ids"][0], {"level": ids["Provider concerns"]})
    await log_in(client, estate["commissioner_row"])
    # filtered to one level, the choice still holds all of them, in the organisation's order
    page = await client.get("/portfolio?level=Provider+concerns")
    assert page.text.count('scope="row"') == 1
    select = page.text.split('id="f-level"')[1].split("</select>")[0]
    offered = [o.split(">", 1)[1].split("<")[0] for o in select.split("<option")[2:]]
    assert offered == names and len(names) >= 4


async def test_a_commissioner_cannot_edit_a_providers_plan(world, app, client):
    estate = await _estate(world, 1)
    await log_in(client, estate["commissioner_row"])
    case = await Case.select(Case.id).where(Case.service == estate["ids"][0]).first()
    page = await client.get(f"/cases/{case['id']}/plan/build")
    assert page.status_code == 403


async def test_the_quality_team_compares_its_homes(world, app, client):
    estate = await _estate(world, 2)
    with clock.frozen(NOW):
        view = await portfolio.quality_view(estate["lead"])
    home = view["homes"][0]
    assert home["themes"]["leadership"] == 100 and home["themes"]["staffing"] == 50
    assert (
        home["themes"]["cultural_change"] == 0 and home["themes"]["working_with_partners"] is None
    )
    assert home["milestones"]["rerated"] is None
    signal = home["signals"][0]
    assert signal["key"] == "staff_turnover" and signal["latest"] == 23
    await log_in(client, estate["lead_row"])
    page = await client.get("/portfolio")
    assert page.status_code == 200 and "Progress by Driving Improvement theme" in page.text
    csv = await client.get("/portfolio.csv")
    assert csv.text.lstrip("\ufeff").splitlines()[0].startswith("Home,Stage,Current rating")


async def test_a_registered_manager_has_no_portfolio(world, app, client):
    provider = await world.org(OrgKind.PROVIDER)
    await log_in(client, await world.user(provider, Role.REGISTERED_MANAGER))
    assert (await client.get("/portfolio")).status_code == 403


async def _queries(count_queries, view, viewer) -> int:
    count_queries["n"] = 0
    with clock.frozen(NOW):
        await view(viewer)
    return count_queries["n"]


async def test_each_view_costs_the_same_queries_at_10_and_200_services(world, count_queries):
    small = await _estate(world, 10)
    large = await _estate(world, 200)
    for view, who in (
        (portfolio.commissioner_view, "commissioner"),
        (portfolio.quality_view, "lead"),
    ):
        at_10 = await _queries(count_queries, view, small[who])
        at_200 = await _queries(count_queries, view, large[who])
        assert at_10 == at_200, f"{view.__name__}: {at_10} queries at 10, {at_200} at 200"
        assert 5 <= at_10 <= 12, f"{view.__name__}: {at_10} queries"
        print(f"{view.__name__}: {at_10} queries at 10 and at 200 services")


async def test_the_api_gives_the_same_numbers(world, app, client):
    from conftest import api_token

    from improve import framework

    estate = await _estate(world, 2)
    headers = {"Authorization": f"Bearer {await api_token(estate['commissioner_row'])}"}
    rows = (await client.get("/api/v1/portfolio?sort=name", headers=headers)).json()
    assert [r["name"] for r in rows] == ["Home 000", "Home 001"]
    assert rows[0]["overdue_actions"] >= 1 and rows[0]["projected"] == "requires_improvement"
    home = estate["ids"][0]
    charts = (await client.get(f"/api/v1/services/{home}/measures", headers=headers)).json()
    turnover = next(c for c in charts if c["key"] == "staff_turnover")
    assert turnover["median"] == 30 and len(turnover["points"]) == 14
    lead = {"Authorization": f"Bearer {await api_token(estate['lead_row'])}"}
    body = {"assessed_on": "2026-10-01", "scores": {i: 3 for i in framework.get("saf").items}}
    made = await client.post(f"/api/v1/services/{home}/assessments", json=body, headers=lead)
    assert made.status_code == 201, made.text
    assert made.json()["projected_overall"] == "good"
    latest = await client.get(f"/api/v1/services/{home}/assessments/latest", headers=headers)
    assert latest.json()["id"] == made.json()["id"]
    refused = await client.post(f"/api/v1/services/{home}/assessments", json=body, headers=headers)
    assert refused.status_code == 403
    bad = await client.post(
        f"/api/v1/services/{home}/measures",
        json={"measure": "falls", "month": "2026-02", "value": -3},
        headers=lead,
    )
    assert bad.status_code == 422 and "value" in bad.text


async def test_the_briefing_brings_the_service_to_a_meeting(world, app, client):
    estate = await _estate(world, 1)
    await Action.update(
        {Action.status: "blocked", Action.blocked_reason: "Waiting for the agency budget"}
    ).where(Action.title == "cultural_change not_started")
    await log_in(client, estate["commissioner_row"])
    with clock.frozen(NOW):
        page = await client.get(f"/services/{estate['ids'][0]}/briefing")
    assert page.status_code == 200, page.text[-500:]
    text = page.text
    for part in ("Ratings", "The improvement case", "The plan: 50% done", "Overdue (1)"):
        assert part in text, part
    assert "Staff turnover" in text and "Latest reviews" in text and "Projected rating" in text
    assert "cultural_change not_started: Waiting for the agency budget" in text  # why it is stuck


async def test_a_dropped_action_leaves_every_count(world):
    """Dropped from the plan, an action is neither progress nor overdue, in either view."""
    estate = await _estate(world, 1)
    await Action.update({Action.status: "dropped", Action.dropped_reason: "Merged"}).where(
        (Action.status == "in_progress") & Action.plan.case.service.is_in(estate["ids"])
    )
    with clock.frozen(NOW):
        row = (await portfolio.commissioner_view(estate["commissioner"]))[0]
        home = (await portfolio.quality_view(estate["lead"]))["homes"][0]
    assert row["progress"] == 67  # 2 of the 3 still in the plan
    assert row["overdue"] == 0  # the overdue one was the one dropped
    assert home["themes"]["staffing"] == 100  # its one remaining staffing action is done


async def test_a_home_whose_manager_has_left_is_flagged_everywhere(world, client):
    """The portfolio rows, both CSVs, the case page, the service page and the API say so."""
    from improve.accounts import people
    from improve.cases import domain as cases_domain

    estate = await _estate(world, 2)
    left_home = estate["ids"][0]
    provider_id = (await Service.select(Service.provider).where(Service.id == left_home).first())[
        "provider"
    ]
    manager = await world.user({"id": provider_id}, Role.REGISTERED_MANAGER)
    await Service.update({Service.manager: manager["id"]}).where(Service.id == left_home)
    await people.update_user(
        manager["id"], name=manager["name"], role=manager["role"], active=False
    )
    with clock.frozen(NOW):
        rows = await portfolio.commissioner_view(estate["commissioner"])
        homes = (await portfolio.quality_view(estate["lead"]))["homes"]
    assert {r["id"]: r["manager_left"] for r in rows} == {left_home: True, estate["ids"][1]: False}
    assert {h["id"]: h["manager_left"] for h in homes} == {
        left_home: True,
        estate["ids"][1]: False,
    }
    header, body = portfolio.csv_rows(rows, portfolio.COMMISSIONER_CSV)
    assert header[-1] == "Manager has left" and sorted(b[-1] for b in body) == ["no", "yes"]

    case = await cases_domain.open_case_for(left_home)
    await log_in(client, estate["lead_row"])
    page = (await client.get(f"/cases/{case['id']}")).text
    assert f"{manager['name']}, the registered manager, has left." in page
    assert "Manager has left" in (await client.get("/portfolio")).text
    service_page = (await client.get(f"/services/{left_home}")).text
    assert "has left</span>" in service_page
    token = await api_token(estate["lead_row"])
    api = await client.get(
        f"/api/v1/services/{left_home}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.json()["manager_left"] is True
    with clock.frozen(NOW):
        briefing = (await client.get(f"/services/{left_home}/briefing")).text
    assert "the registered manager, has left." in briefing
    assert f"/cases/{case['id']}/casefile.zip" in briefing


async def test_actions_moved_later_than_first_agreed_are_counted_in_both_views(world):
    estate = await _estate(world, 2)
    first = estate["ids"][0]
    await Action.update({Action.first_due_on: dt.date(2026, 11, 1)}).where(
        (Action.status == "not_started") & Action.plan.case.service.is_in([first])
    )  # first agreed for 1 Nov, now due 1 Dec: a month later
    await Action.update({Action.first_due_on: dt.date(2026, 5, 1)}).where(
        (Action.status == "verified") & Action.plan.case.service.is_in([first])
    )  # finished: whatever its dates did, it no longer slips
    with clock.frozen(NOW):
        rows = {r["id"]: r for r in await portfolio.commissioner_view(estate["commissioner"])}
        homes = {h["id"]: h for h in (await portfolio.quality_view(estate["lead"]))["homes"]}
    assert rows[first]["slipped"] == 1 and rows[estate["ids"][1]]["slipped"] == 0
    assert homes[first]["slipped"] == 1
    header, body = portfolio.csv_rows(list(rows.values()), portfolio.COMMISSIONER_CSV)
    assert "Actions moved later than first agreed" in header
