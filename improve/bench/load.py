"""The load generator: ``python -m improve.bench.load SPEC OUT``, in its own process so
the server's CPU is not shared with the client's event loop.

SPEC (JSON) names the server(s), the requests of each endpoint and how long to send
them; endpoints are measured one after another. Each of N
workers is one keep-alive connection sending one request after another (a closed loop:
a new request when the previous answered), to the server ``worker % len(bases)``. So
with two instances the load is split evenly between them.

Three phases: a warm-up (not counted), a short serial phase (one connection: the time
a request costs alone) and the measured phase (N connections for T seconds).

A PATCH request carries ``patch: {status, version}``: the body toggles the status and
sends the version last read; the answer's version is kept for the next PATCH of that
action. Workers own disjoint shares of the actions, so they never race each other;
a 409 (someone else's change) is counted apart, and the action re-read.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TIMEOUT = 60.0


# --- one request ---------------------------------------------------------------------------


def _body(item: dict[str, Any]) -> dict[str, Any] | None:
    patch = item.get("patch")
    if patch is None:
        return None
    to = "in_progress" if patch["status"] == "not_started" else "not_started"
    return {"version": patch["version"], "status": to}


def _remember(item: dict[str, Any], action: dict[str, Any]) -> None:
    item["patch"] = {"status": action["status"], "version": action["version"]}


async def request(client: httpx.AsyncClient, item: dict[str, Any]) -> httpx.Response:
    return await client.request(
        item["method"], item["path"], headers=item["headers"], json=_body(item)
    )


async def after(client: httpx.AsyncClient, item: dict[str, Any], response: httpx.Response) -> None:
    """Keep a PATCHed action's new version; after a 409, read the current one (untimed)."""
    if "patch" not in item:
        return
    if response.status_code < 300:
        _remember(item, response.json()["action"])
    elif response.status_code == 409:
        fresh = await client.get(item["path"], headers=item["headers"])
        if fresh.status_code == 200:
            _remember(item, fresh.json()["action"])


async def send(client: httpx.AsyncClient, item: dict[str, Any]) -> int:
    """One request and its follow-up; the status code."""
    response = await request(client, item)
    await after(client, item, response)
    return response.status_code


# --- many requests -------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, of 2xx answers
    conflicts: int = 0
    failures: Counter = field(default_factory=Counter)  # "503", "ReadTimeout", ...

    def add(self, status: int, seconds: float) -> None:
        if 200 <= status < 300:
            self.latencies.append(seconds)
        elif status == 409:
            self.conflicts += 1
        else:  # a redirect to the login page, a 404 or a 5xx all mean the bench is wrong
            self.failures[str(status)] += 1


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _share(items: list[dict[str, Any]], worker: int, workers: int) -> list[dict[str, Any]]:
    """A worker's own items (disjoint when there are enough), so PATCHes never race."""
    if len(items) >= workers:
        return items[worker::workers]
    start = worker % len(items)
    return items[start:] + items[:start]


async def _worker(base: str, items: list[dict[str, Any]], until: float, tally: Tally | None):
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as client:
        n = 0
        while (started := time.perf_counter()) < until:
            item = items[n % len(items)]
            n += 1
            try:
                response = await request(client, item)
            except httpx.HTTPError as exc:
                if tally is not None:
                    tally.failures[type(exc).__name__] += 1
                continue
            if tally is not None:
                tally.add(response.status_code, time.perf_counter() - started)
            await after(client, item, response)


async def phase(
    bases: list[str], items: list[dict[str, Any]], workers: int, seconds: float, count: bool
) -> tuple[Tally, float]:
    """``workers`` connections for ``seconds``; the tally and the wall time taken."""
    tally = Tally() if count else None
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(
            _worker(bases[w % len(bases)], _share(items, w, workers), until, tally)
            for w in range(workers)
        )
    )
    return tally or Tally(), time.perf_counter() - started


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


async def measure(
    bases: list[str], items: list[dict[str, Any]], spec: dict[str, Any]
) -> dict[str, Any]:
    """Warm up, then one connection alone, then ``concurrency`` connections."""
    workers = spec["concurrency"]
    await phase(bases, items, workers, spec["warmup_seconds"], count=False)
    alone, _ = await phase(bases, items, 1, spec["serial_seconds"], count=True)
    cpu = _cpu()
    loaded, wall = await phase(bases, items, workers, spec["seconds"], count=True)
    cpu = _cpu() - cpu
    return {
        "p50_ms": _ms(percentile(loaded.latencies, 0.50)),
        "p95_ms": _ms(percentile(loaded.latencies, 0.95)),
        "rps": round(len(loaded.latencies) / wall, 1),
        "ok": len(loaded.latencies),
        "conflicts": loaded.conflicts + alone.conflicts,
        "failures": dict(loaded.failures + alone.failures),
        "alone_p50_ms": _ms(percentile(alone.latencies, 0.50)),
        # near 1.0 the client, not the server, limited the rate: read the figures with care
        "client_cpu": round(cpu / wall, 2),
    }


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Each endpoint of SPEC in turn, against the same server(s)."""
    return {
        name: await measure(spec["bases"], items, spec) for name, items in spec["endpoints"].items()
    }


def main(argv: list[str]) -> int:
    spec_path, out_path = argv
    result = asyncio.run(run(json.loads(Path(spec_path).read_text())))
    Path(out_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
