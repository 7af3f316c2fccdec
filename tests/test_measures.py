"""Measures: the form, the all-or-nothing CSV with its row errors, run charts on the
page, and whether a verified action moved its measure."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import csrf_token, log_in, unique_location_id, viewer_of

from improve import clock
from improve.accounts.tables import OrgKind, Role
from improve.errors import Forbidden, Invalid
from improve.measures import domain as measures
from improve.measures.tables import MeasureUpload, MeasureValue


@pytest.fixture
async def homes(world):
    provider = await world.org(OrgKind.PROVIDER)
    other = await world.org(OrgKind.PROVIDER)
    council = await world.org(OrgKind.COMMISSIONER)
    lead = await world.user(provider, Role.QUALITY_LEAD)
    manager = await world.user(provider, Role.REGISTERED_MANAGER)
    home = await world.service(provider, manager, (council,))
    agency = await world.service(provider, manager)
    theirs = await world.service(other)
    from improve.services.tables import Service

    location = unique_location_id()
    await Service.update({Service.cqc_location_id: location}).where(Service.id == home["id"])
    await Service.update({Service.service_type: "home_care"}).where(Service.id == agency["id"])
    return {
        "lead": viewer_of(lead),
        "manager": viewer_of(manager),
        "commissioner": viewer_of(await world.user(council, Role.COMMISSIONER)),
        "home": home,
        "agency": agency,
        "theirs": theirs,
        "location": location,
    }


async def _values(service_id: int) -> list[dict]:
    return await MeasureValue.select(
        MeasureValue.measure, MeasureValue.month, MeasureValue.value
    ).where(MeasureValue.service == service_id)


async def test_a_figure_is_recorded_and_replaced_for_the_same_month(homes):
    home = homes["home"]["id"]
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        await measures.record(homes["manager"], home, "staff_turnover", "2026-05", "31.5")
        await measures.record(homes["manager"], home, "staff_turnover", "2026-05-01", "29")
    rows = await _values(home)
    assert rows == [{"measure": "staff_turnover", "month": dt.date(2026, 5, 1), "value": 29.0}]


async def test_bad_form_fields_are_named(homes):
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        with pytest.raises(Invalid) as bad:
            await measures.record(homes["manager"], homes["home"]["id"], "falls", "2026-09", "x")
        assert set(bad.value.errors) == {"month", "value"}
        with pytest.raises(Invalid) as bad:
            await measures.record(
                homes["manager"], homes["home"]["id"], "vacancy_rate", "2026-04", "120"
            )
        assert "over 100" in bad.value.errors["value"]
        with pytest.raises(Invalid) as bad:
            # missed calls are a home-care measure, not a care home's
            await measures.record(
                homes["manager"], homes["home"]["id"], "missed_late_calls", "2026-04", "3"
            )
        assert "measure" in bad.value.errors


async def test_commissioners_read_measures_but_cannot_write_them(homes):
    with pytest.raises(Forbidden):
        await measures.record(homes["commissioner"], homes["home"]["id"], "falls", "2026-01", "1")
    with pytest.raises(Forbidden):
        await measures.upload_csv(homes["commissioner"], "m.csv", b"service,month,measure,value\n")
    page = await measures.service_measures(homes["commissioner"], homes["home"]["id"])
    assert page["service"]["id"] == homes["home"]["id"]


async def test_a_valid_csv_is_saved_whole_and_kept(homes):
    csv = (
        "service,month,measure,value\n"
        f"{homes['location']},2026-01,staff_turnover,30\n"
        f"{homes['home']['id']},2026-02,staff_turnover,28.5\n"
        f"{homes['agency']['id']},2026-02,missed_late_calls,4\n"
    )
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        result = await measures.upload_csv(homes["lead"], "june.csv", csv.encode())
    assert result == {"rows": 3, "services": 2}
    assert len(await _values(homes["home"]["id"])) == 2
    kept = await MeasureUpload.select().where(MeasureUpload.filename == "june.csv").first()
    assert kept["rows"] == 3 and kept["content"] == csv
    # saved from Excel as "CSV UTF-8", or our own example file: it starts with a BOM
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        again = await measures.upload_csv(homes["lead"], "excel.csv", ("\ufeff" + csv).encode())
    assert again == {"rows": 3, "services": 2}


async def test_an_invalid_csv_lists_every_bad_row_and_saves_nothing(homes):
    home = homes["home"]["id"]
    csv = (
        "service,month,measure,value\n"
        f"{home},2026-01,staff_turnover,30\n"  # 2: fine
        f"{homes['theirs']['id']},2026-01,falls,2\n"  # 3: another provider's home
        f"{home},2026-13,falls,2\n"  # 4: no such month
        f"{home},2027-01,falls,2\n"  # 5: the future
        f"{home},2026-01,happiness,2\n"  # 6: no such measure
        f"{home},2026-01,falls,many\n"  # 7: not a number
        f"{home},2026-01,vacancy_rate,101\n"  # 8: over 100%
        f"{home},2026-01,staff_turnover,31\n"  # 9: same as line 2
        "\n"
        f"{home},2026-02,falls,-1\n"  # 11: negative
    )
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        with pytest.raises(measures.CsvRefused) as refused:
            await measures.upload_csv(homes["lead"], "bad.csv", csv.encode())
    lines = {e.line: e.reason for e in refused.value.rows}
    assert sorted(lines) == [3, 4, 5, 6, 7, 8, 9, 11]
    assert "not one of your services" in lines[3]
    assert "2026-03" in lines[4] or "month" in lines[4]
    assert "future" in lines[5]
    assert "happiness" in lines[6]
    assert "number" in lines[7]
    assert "100" in lines[8]
    assert "line 2" in lines[9]
    assert "zero or more" in lines[11]
    assert await _values(home) == []
    assert not await MeasureUpload.exists().where(MeasureUpload.filename == "bad.csv")


async def test_a_csv_without_the_header_or_not_utf8_is_refused(homes):
    with pytest.raises(measures.CsvRefused) as refused:
        await measures.upload_csv(homes["lead"], "x.csv", b"home,when,what\n1,2,3\n")
    assert refused.value.rows[0].line == 1
    with pytest.raises(Invalid) as bad:
        await measures.upload_csv(homes["lead"], "x.csv", "service,month\n\xe9".encode("latin-1"))
    assert "UTF-8" in bad.value.errors["file"]


async def test_an_organisation_defines_its_own_measure(homes):
    defined = await measures.define(
        homes["lead"], {"key": "activities_hours", "name": "Activities", "better": "up"}
    )
    assert defined["key"] == "activities_hours"
    with pytest.raises(Invalid) as bad:
        await measures.define(homes["lead"], {"key": "falls", "name": "Falls", "better": "up"})
    assert "built-in" in bad.value.errors["key"]
    with pytest.raises(Forbidden):
        await measures.define(homes["manager"], {"key": "x1", "name": "X", "better": "up"})
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        home = homes["home"]["id"]
        await measures.record(homes["manager"], home, "activities_hours", "2026-05", 9)


def _months(start: dt.date, values: list[float]) -> list[tuple[dt.date, float]]:
    out, y, m = [], start.year, start.month
    for v in values:
        out.append((dt.date(y, m, 1), v))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_a_verified_action_moved_its_measure_when_a_signal_follows():
    from improve.measures import catalog

    turnover = catalog.BY_KEY["staff_turnover"]
    points = _months(dt.date(2025, 1, 1), [30, 31, 29, 32, 30, 31, 30, 29, 31, 30, 32, 30])
    points += _months(dt.date(2026, 1, 1), [26, 25, 24, 24, 23, 22])  # six below: a shift
    rc = measures.chart(points, turnover)
    effect = measures.action_effect(rc, dt.date(2025, 12, 20))
    assert effect["state"] == "improved"
    assert measures.action_effect(rc, None)["state"] == "unverified"
    assert measures.action_effect(None, dt.date(2026, 1, 1))["state"] == "no_data"
    flat = measures.chart(points[:12], turnover)
    assert measures.action_effect(flat, dt.date(2025, 6, 1))["state"] == "no_signal"


async def test_the_page_draws_run_charts_with_a_table_and_words(app, client, world, homes):
    home = homes["home"]["id"]
    values = [30, 31, 29, 32, 30, 31, 30, 29, 31, 30, 32, 30, 26, 25, 24, 24, 23, 22]
    rows = [(home, "staff_turnover", d, v) for d, v in _months(dt.date(2025, 1, 1), values)]
    await measures._upsert(rows, homes["lead"], "csv")
    from improve.accounts.tables import User

    manager = await User.select().where(User.id == homes["manager"].user_id).first()
    await log_in(client, manager)
    page = await client.get(f"/services/{home}/measures")
    assert page.status_code == 200
    assert "<svg" in page.text and 'role="img"' in page.text
    assert "Data table: Staff turnover" in page.text
    assert "a shift" in page.text
    assert "National figure" in page.text and "24.7" in page.text
    token = await csrf_token(client)
    saved = await client.post(
        f"/services/{home}/measures",
        data={"measure": "falls", "month": "2026-06", "value": "3", "_csrf_token": token},
    )
    assert saved.status_code in (303, 400)


def test_a_signal_already_under_way_is_not_credited_to_the_action():
    from improve.measures import catalog

    turnover = catalog.BY_KEY["staff_turnover"]
    points = _months(dt.date(2025, 1, 1), [30, 31, 29, 32, 30, 31, 30, 29, 31, 30, 32, 30])
    points += _months(dt.date(2026, 1, 1), [26, 25, 24, 24, 23, 22])
    rc = measures.chart(points, turnover)
    assert measures.action_effect(rc, dt.date(2026, 4, 10))["state"] == "before"


# --- summaries kept for the portfolio ------------------------------------------------------


async def _summaries(service_id: int) -> dict[str, dict]:
    from improve.measures import summaries

    return (await summaries.of_services([service_id])).get(service_id, {})


async def test_saving_figures_keeps_the_latest_value_and_signal(homes):
    from improve.measures import catalog

    home, lead = homes["home"]["id"], homes["lead"]
    rising = [10, 11, 10, 9, 10, 11, 10, 10, 9, 11, 10, 10, 14, 15, 16, 15, 17, 18]
    csv = "service,month,measure,value\n" + "".join(
        f"{home},{2025 + m // 12}-{m % 12 + 1:02d},staff_turnover,{v}\n"
        for m, v in enumerate(rising)
    )
    with clock.frozen(dt.datetime(2026, 8, 15, 12, tzinfo=dt.UTC)):
        await measures.upload_csv(lead, "turnover.csv", csv.encode())
        kept = (await _summaries(home))["staff_turnover"]
        assert kept["latest_value"] == 18 and kept["latest_month"] == dt.date(2026, 6, 1)
        # the same answer the run chart gives, found with the same rules
        measure = catalog.BY_KEY["staff_turnover"]
        rc = measures.chart([(dt.date(2025 + m // 12, m % 12 + 1, 1), v)
                             for m, v in enumerate(rising)], measure)  # fmt: skip
        sig = measures.latest_signal(rc)
        assert kept["signal"]["kind"] == sig.kind and kept["signal"]["improving"] is False
        # a figure from the form replaces the latest one; the summary follows at once
        await measures.record(homes["manager"], home, "staff_turnover", "2026-06", "12")
        assert (await _summaries(home))["staff_turnover"]["latest_value"] == 12


async def test_stale_summaries_are_found_and_refreshed(homes):
    from improve import settings
    from improve.measures import summaries
    from improve.measures.tables import MeasureSummary

    home = homes["home"]["id"]
    with clock.frozen(dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)):
        await measures.record(homes["manager"], home, "falls", "2026-05", "3")
    assert home not in await summaries.stale_services()
    # an upgrade from before summaries: figures without one
    await MeasureSummary.delete().where(MeasureSummary.service == home)
    assert home in await summaries.stale_services()
    assert await summaries.refresh_stale() >= 1
    assert (await _summaries(home))["falls"]["latest_value"] == 3
    # other run-chart thresholds: every summary found with the old ones is stale
    saved = settings.get_settings()
    settings.override(runchart_shift=7)
    try:
        assert home in await summaries.stale_services()
        await summaries.refresh_stale()
        assert home not in await summaries.stale_services()
    finally:
        settings.use(saved)
