"""The demo shows the portfolio features with real numbers: commissioners' levels and
visits, measures whose run charts show the signals the story put there, a verified action
that worked, self-assessments whose projection moves by CQC's rules, finished journeys.

The demo is built in a subprocess on its own SQLite file (as `improve demo` does), so its
people and reminders never mix with the shared test database's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEST_SECRET

SCRIPT = r"""
import asyncio, contextlib, datetime as dt, json, sys

from improve import clock, db, demo
from improve.access import viewer_from_row
from improve.accounts import people
from improve.accounts.tables import User
from improve.assessments import domain as assessments
from improve.assessments.tables import SelfAssessment
from improve.cases.tables import Case
from improve.measures import catalog
from improve.measures import domain as measures
from improve.monitoring.tables import MonitoringVisit
from improve.plans import domain as plans
from improve.portfolio import domain as portfolio
from improve.services.tables import Service


async def viewer(email):
    row = await User.select(User.id).where(User.email == email).first()
    return viewer_from_row(await people.user(row["id"]))


def signal(sig):
    if sig is None:
        return None
    # the quality view reads kept summaries: a dict, its dates in ISO form
    return {k: sig[k] for k in ("kind", "improving", "start", "end")}


async def main(out_path):
    with contextlib.redirect_stdout(sys.stderr):  # the migrations talk
        await demo.prepare()
    await db.prepare(1)
    out = {"today": clock.today()}
    for email in ("commissioner@devon.demo", "commissioner@cios-icb.demo"):
        out[email] = await portfolio.commissioner_view(await viewer(email))
    for email in ("quality@oakwood.demo", "quality@harbour.demo"):
        view = await portfolio.quality_view(await viewer(email))
        for home in view["homes"]:
            home["signals"] = [{**s, "signal": signal(s["signal"])} for s in home["signals"]]
        out[email] = {"homes": view["homes"], "finished": view["finished"]}
    admin = await viewer("admin@demo.improve")
    names = {s["id"]: s["name"] for s in await Service.select(Service.id, Service.name)}
    out["assessments"] = {}
    for row in await SelfAssessment.select(SelfAssessment.id, SelfAssessment.service).order_by(
        SelfAssessment.assessed_on
    ):
        a = await assessments.get(admin, row["id"])
        out["assessments"].setdefault(names[row["service"]], []).append({
            "assessed_on": a["assessed_on"],
            "statements": len(a["scores"]),
            "notes": sum(1 for t in a["evidence"].values() if t),
            "projected": a["projected_overall"],
            "breach": a["breach"],
            "ratings": {k: r.rating.value for k, r in a["result"].key_questions.items()},
            "limiters": {k: r.limiter for k, r in a["result"].key_questions.items() if r.limiter},
        })
    out["effects"] = []
    for case in await Case.select(Case.id, Case.service).where(Case.stage != "closed"):
        service = case["service"]
        actions = await plans.actions_of(admin, case["id"])
        effects = await measures.action_effects(service, actions)
        for a in actions:
            if a["status"] == "verified" and a["id"] in effects:
                e = effects[a["id"]]
                out["effects"].append({
                    "service": names[service], "measure": e["measure"].key,
                    "verified_on": a["verified_on"], "state": e["state"], "text": e["text"],
                })
    out["series"] = {}
    for service_id, by_measure in (await measures.series_of(list(names))).items():
        out["series"][names[service_id]] = {
            key: {"unit": catalog.BY_KEY[key].unit, "points": points}
            for key, points in by_measure.items()
        }
    out["visits"] = await MonitoringVisit.select(
        MonitoringVisit.service.name.as_alias("service"), MonitoringVisit.kind,
        MonitoringVisit.case, MonitoringVisit.finding_ids, MonitoringVisit.outcome,
    ).output(load_json=True)
    out["open_cases"] = {
        names[c["service"]]: c["id"]
        for c in await Case.select(Case.id, Case.service).where(Case.stage != "closed")
    }
    await db.release()
    with open(out_path, "w") as f:
        json.dump(out, f, default=str)


asyncio.run(main(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def shown(tmp_path_factory) -> dict:
    """What the demo's people see, from a fresh demo database."""
    where = tmp_path_factory.mktemp("demo")
    base = {k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(where / "shown.json")],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **base,
            "IMPROVE_SECRET_KEY": TEST_SECRET,
            "IMPROVE_DATABASE_URL": f"sqlite:///{where}/demo.sqlite",
            "IMPROVE_SCHEDULER": "off",
            "PYTHONPATH": str(Path(__file__).parent.parent),
        },
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((where / "shown.json").read_text())


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {r["name"]: r for r in rows}


def latest_signals(home: dict) -> dict[str, dict | None]:
    return {s["key"]: s["signal"] for s in home["signals"]}


def test_commissioners_see_levels_progress_and_projections(shown):
    today = dt.date.fromisoformat(shown["today"])
    devon = by_name(shown["commissioner@devon.demo"])
    assert set(devon) == {
        "Oakwood House",
        "Beech Lodge Nursing Home",
        "Oakwood Home Care Exeter",
        "Harbour Lights Supported Living",
    }
    assert all(r["level"] for r in devon.values())
    assert all(
        today <= dt.date.fromisoformat(r["level_review_on"]) <= today + dt.timedelta(days=200)
        for r in devon.values()
    )
    oak = devon["Oakwood House"]
    assert oak["level"] == "Placements suspended" and oak["rating_label"] == "Inadequate"
    assert 0 < oak["progress"] < 100 and oak["overdue"] >= 1
    assert oak["slipped"] == 1  # the training date the story moved three weeks later
    assert oak["projected_label"] == "Requires improvement"
    assert oak["days_since_inadequate"] == 82
    exeter = devon["Oakwood Home Care Exeter"]
    assert exeter["stage"] == "Sustaining" and exeter["progress"] == 100
    assert exeter["projected_label"] == "Good" and exeter["trend"]["word"] == "improving"
    assert exeter["last_review_rag"] == "green"
    # most concern first
    assert shown["commissioner@devon.demo"][0]["name"] == "Oakwood House"
    icb = by_name(shown["commissioner@cios-icb.demo"])
    harbour = icb["Harbour View"]
    assert harbour["level"] == "Provider concerns" and harbour["progress"] is not None
    assert harbour["projected_label"] == "Requires improvement"
    assert harbour["trend"]["word"] == "improving"  # Inadequate, then Requires improvement


def test_a_visit_with_findings_joins_the_open_case(shown):
    audits = [v for v in shown["visits"] if v["kind"] == "quality_audit"]
    assert len(audits) == 1
    audit = audits[0]
    assert audit["service"] == "Beech Lodge Nursing Home"
    assert audit["case"] == shown["open_cases"]["Beech Lodge Nursing Home"]
    assert len(audit["finding_ids"]) == 3 and audit["outcome"] == "requires_improvement"


def test_quality_leads_see_themes_signals_and_finished_journeys(shown):
    oakwood = by_name(shown["quality@oakwood.demo"]["homes"])
    house = oakwood["Oakwood House"]
    assert any(v is not None and v > 0 for v in house["themes"].values())
    assert house["projected"] == "Requires improvement"
    signals = latest_signals(house)
    for key in ("training_completion", "staff_turnover", "supervision_completed"):
        assert signals[key]["improving"] is True, key
        assert signals[key]["start"] > oakwood_baseline_end(shown), key
    assert signals["vacancy_rate"] is None and signals["falls"] is None
    # the stalling home: only agency use moves, the wrong way
    beech = latest_signals(oakwood["Beech Lodge Nursing Home"])
    assert beech["agency_hours_share"]["improving"] is False
    assert [k for k, s in beech.items() if s] == ["agency_hours_share"]
    exeter = latest_signals(oakwood["Oakwood Home Care Exeter"])
    assert exeter["missed_late_calls"]["improving"] is True
    assert oakwood["Oakwood Home Care Exeter"]["themes"]["leadership"] == 100
    harbour = by_name(shown["quality@harbour.demo"]["homes"])
    assert latest_signals(harbour["Harbour View"])["training_completion"]["improving"] is True
    assert not any(latest_signals(harbour["Harbour Lights Supported Living"]).values())
    for lead in ("quality@oakwood.demo", "quality@harbour.demo"):
        journeys = shown[lead]["finished"]["journeys"]
        assert len(journeys) == 1 and journeys[0]["days"] > 0


def oakwood_baseline_end(shown) -> str:
    points = shown["series"]["Oakwood House"]["training_completion"]["points"]
    return points[11][0]


def test_measures_are_two_years_of_believable_figures(shown):
    today = dt.date.fromisoformat(shown["today"])
    last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert set(shown["series"]) == {
        "Oakwood House",
        "Beech Lodge Nursing Home",
        "Oakwood Home Care Exeter",
        "Harbour View",
        "Harbour Lights Supported Living",
    }
    for home, by_measure in shown["series"].items():
        assert len(by_measure) >= 8, home
        for key, s in by_measure.items():
            months = [dt.date.fromisoformat(m) for m, _ in s["points"]]
            values = [v for _, v in s["points"]]
            assert len(months) == 24 and months[-1] == last_month, (home, key)
            assert all(v >= 0 for v in values), (home, key)
            if s["unit"] == "%":
                assert all(v <= 100 for v in values), (home, key)
            if s["unit"] == "":
                assert all(v == int(v) for v in values), (home, key)
    assert "missed_late_calls" in shown["series"]["Oakwood Home Care Exeter"]
    assert "falls" not in shown["series"]["Oakwood Home Care Exeter"]


def test_a_verified_action_shows_that_it_worked(shown):
    improved = [e for e in shown["effects"] if e["state"] == "improved"]
    care_plans = [e for e in improved if e["measure"] == "care_plans_reviewed_on_time"]
    assert care_plans and care_plans[0]["service"] == "Oakwood Home Care Exeter"
    assert care_plans[0]["text"].startswith("Improved: ")
    # the signal began after the action was verified (the month of it at the earliest)
    verified = dt.date.fromisoformat(care_plans[0]["verified_on"])
    points = shown["series"]["Oakwood Home Care Exeter"]["care_plans_reviewed_on_time"]["points"]
    before = [v for m, v in points if dt.date.fromisoformat(m) < verified.replace(day=1)]
    after = [v for m, v in points if dt.date.fromisoformat(m) > verified]
    assert max(before) < min(after)


def test_self_assessments_project_a_rating_by_cqcs_rules(shown):
    done = shown["assessments"]
    assert {len(done[h]) for h in ("Oakwood House", "Oakwood Home Care Exeter")} == {3}
    assert len(done["Harbour View"]) == 2
    for home, items in done.items():
        for a in items:
            assert a["statements"] == 34 and a["notes"] == 34, home
            assert a["projected"], home
    house = done["Oakwood House"]
    assert [a["projected"] for a in house] == [
        "inadequate",
        "requires_improvement",
        "requires_improvement",
    ]
    assert [a["projected"] for a in done["Harbour View"]] == [
        "inadequate",
        "requires_improvement",
    ]
    assert [a["projected"] for a in done["Oakwood Home Care Exeter"]] == [
        "inadequate",
        "requires_improvement",
        "good",
    ]
    # the latest at Oakwood House: Safe scores in the Good band, but medicines at 1
    latest = house[-1]
    assert latest["ratings"]["safe"] == "requires_improvement"
    assert latest["limiters"]["safe"].startswith("Limited to Requires improvement")
    # a breach counts only while it is open: before the case, and after the findings
    # were addressed, there is none
    assert house[0]["breach"] is False and house[1]["breach"] is True
    assert [a["breach"] for a in done["Oakwood Home Care Exeter"]] == [True, True, False]
