"""One database setup's in-process work: ``python -m improve.bench.prepare SPEC OUT``.

Started by ``improve.bench`` with IMPROVE_DATABASE_URL and the other settings already in
this process's environment (they are read once, on first use, as in the app). It:

1. applies the committed migrations (``improve.db.migrate``);
2. builds the estate in bulk (``improve.bench.estate``);
3. logs people in (sessions and API tokens, through the accounts modules) and writes
   the requests the load generator will send;
4. times the reminder scan (``jobs.reminders.scan``) twice. The estate already holds
   the reminders due up to yesterday, as sent; so the first scan is a day's first (it
   writes what fell due since) and the repeat is the scan every few minutes after it;
5. counts the queries each measured request costs, and times it, through the real app
   in-process with no kept view to serve it (improve.snapshots): the cold cost.

Everything it learns goes to OUT as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from improve import db
from improve.access import Viewer
from improve.accounts import sessions, tokens
from improve.accounts.tables import OrgKind, Role
from improve.bench import load
from improve.bench.estate import Estate, Home, Scale, build
from improve.bench.report import ENDPOINTS

PATCH_POOL = 4000  # actions the PATCH load is spread over (each worker owns a share)


def _sample(estate: Estate) -> list[Home]:
    """Homes spread evenly over the estate (every provider, every age of case)."""
    step = max(1, len(estate.homes) // estate.scale.sample)
    return estate.homes[::step][: estate.scale.sample]


async def _lead_tokens(estate: Estate) -> list[str]:
    out = []
    for p, prov in enumerate(estate.providers):
        viewer = Viewer(
            prov["lead"],
            f"lead{p}@bench.example",
            f"Lead {p}",
            Role.QUALITY_LEAD,
            prov["org"],
            prov["name"],
            OrgKind.PROVIDER,
        )
        out.append((await tokens.create(viewer, "bench"))[1])
    return out


def _page(path: str, token: str) -> dict[str, Any]:
    return {"method": "GET", "path": path, "headers": {"cookie": f"{sessions.COOKIE_NAME}={token}"}}


def _api(method: str, path: str, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "headers": {"authorization": f"Bearer {token}"},
        **extra,
    }


def _patch(action: dict[str, Any], bearer: list[str]) -> dict[str, Any]:
    # Toggling not started <-> in progress is always allowed, so every PATCH is a real
    # change (an update, its history row, the action read back), never a refusal.
    return _api(
        "PATCH",
        f"/api/v1/actions/{action['id']}",
        bearer[action["home"].provider],
        patch={"status": action["status"], "version": action["version"]},
    )


async def requests_for(
    estate: Estate,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """The requests of each measured endpoint, spread over many people and cases; and a
    spare PATCH (an action outside the load's pool) for counting queries."""
    homes = _sample(estate)
    bearer = await _lead_tokens(estate)
    case_pages = [_page(f"/cases/{h.case}", await sessions.start(h.manager)) for h in homes]
    councils = [_page("/portfolio", await sessions.start(c["user"])) for c in estate.commissioners]
    leads = [_page("/portfolio", await sessions.start(p["lead"])) for p in estate.providers]
    plans = [_api("GET", f"/api/v1/cases/{h.case}/plan", bearer[h.provider]) for h in homes]
    sampled = {h.case for h in homes}
    movable = [a for a in estate.actions if a["status"] in ("not_started", "in_progress")]
    pool = [a for a in movable if a["home"].case in sampled][:PATCH_POOL]
    spare = next((a for a in movable if a["home"].case not in sampled), movable[-1])
    patches = [_patch(a, bearer) for a in pool if a is not spare]
    requests = dict(zip(ENDPOINTS[1:], (case_pages, councils, leads, plans, patches), strict=True))
    return requests, _patch(spare, bearer)


async def time_scan() -> dict[str, Any]:
    """Today's first scan (yesterday's reminders are in the outbox: it writes what fell
    due since), then a repeat, as the scan runs every few minutes (nothing new)."""
    from jobs import reminders

    started = time.perf_counter()
    first = await reminders.scan()
    middle = time.perf_counter()
    repeat = await reminders.scan()
    return {
        "first_s": middle - started,
        "repeat_s": time.perf_counter() - middle,
        "due": first["due"],
        "written": first["written"],
        "errors": first["errors"] + repeat["errors"],
    }


COLD_TIMES = 5  # cold requests timed per endpoint (the median is reported)


async def cold_requests(requests: dict[str, list[dict[str, Any]]]) -> dict[str, dict]:
    """What one request costs when no kept view can serve it (improve.snapshots): the
    statements it sends to the database, counted at the engine (as tests/conftest.py count_queries
    does), and the median of its time, with the real app called in-process."""
    import httpx

    from improve import snapshots
    from improve.app import create_app
    from improve.cases.tables import Case

    engine_class = type(Case._meta.db)  # the engine's slots forbid patching the instance
    original = engine_class.run_querystring
    counter = {"n": 0}

    async def counting(self, *args, **kwargs):
        counter["n"] += 1
        return await original(self, *args, **kwargs)

    queries: dict[str, int | None] = {}
    cold_ms: dict[str, float] = {}
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
        for name, items in requests.items():
            item = items[-1]
            await load.send(client, item)  # warm: first-use work is not counted
            times = []
            for _ in range(COLD_TIMES):
                snapshots.VIEWS.clear()
                started = time.perf_counter()
                await load.send(client, item)
                times.append(time.perf_counter() - started)
            cold_ms[name] = round(1000 * sorted(times)[len(times) // 2], 1)
            snapshots.VIEWS.clear()
            engine_class.run_querystring = counting
            try:
                counter["n"] = 0
                status = await load.send(client, item)
            finally:
                engine_class.run_querystring = original
            queries[name] = counter["n"] if status < 400 else None
    return {"queries": queries, "cold_ms": cold_ms}


async def _analyze() -> None:
    """Planner statistics on PostgreSQL, as autovacuum would gather them soon after a bulk
    load (it may be off on a test server; without statistics PostgreSQL plans as if the
    tables were tiny). SQLite is left as the app leaves it: nothing runs ANALYZE there."""
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(db.engine(), PostgresEngine):
        await db.engine().run_ddl("ANALYZE")


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    await db.migrate()
    await db.prepare(4)
    try:
        estate = await build(Scale(**spec["scale"]))
        await _analyze()
        built = time.perf_counter() - started
        requests, spare = await requests_for(estate)
        scan = await time_scan()
        counted = {**requests, "API PATCH action": [spare]}
        cold = await cold_requests(counted)
    finally:
        await db.release()
    return {
        "build_s": built,
        "rows": estate.rows,
        "requests": requests,
        "scan": scan,
        "queries": cold["queries"],
        "cold_ms": cold["cold_ms"],
    }


def main(argv: list[str]) -> int:
    spec_path, out_path = argv
    result = asyncio.run(run(json.loads(Path(spec_path).read_text())))
    Path(out_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
