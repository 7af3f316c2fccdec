"""The benchmark's one table, and the targets of issue 8 checked against it.

Columns: p50/p95 and req/s under load (8 connections); "alone": one connection; both
served by the running app, so pages come from kept views (improve.snapshots) once
computed, as they are while nobody changes the data. "cold ms" and "queries": one
request with nothing kept (every view computed afresh), in-process: what a page costs
just after a change.
"""

from __future__ import annotations

from typing import Any

ENDPOINTS = (
    "bare",
    "case page",
    "portfolio (commissioner)",
    "portfolio (quality)",
    "API plan",
    "API PATCH action",
)
BARE_LABEL = "bare Litestar + Jinja"
PAGES = ("case page", "portfolio (commissioner)", "portfolio (quality)")
PORTFOLIOS = ("portfolio (commissioner)", "portfolio (quality)")
# Issue 8's targets, for the default scale on 2 cores.
P95_MS = 100.0
BARE_TIMES = 5.0
SCAN_S = 2.0
RSS_MB = 250.0
CLIENT_BOUND = 0.9  # the load generator's CPU share above which it may be the bottleneck

COLUMNS = (
    "setup",
    "measure",
    "p50 ms",
    "p95 ms",
    "req/s",
    "p95 ÷ bare",
    "alone p50 ms",
    "cold ms",
    "queries",
    "409",
    "failed",
    "targets",
)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def endpoint_targets(name: str, p95: float | None, ratio: float | None) -> str:
    checks = []
    if name in PAGES:
        checks.append(f"p95 ≤ {P95_MS:.0f} ms {verdict(p95 is not None and p95 <= P95_MS)}")
    if name in PORTFOLIOS:
        ok = ratio is not None and ratio <= BARE_TIMES
        checks.append(f"≤ {BARE_TIMES:.0f}× bare {verdict(ok)}")
    return "; ".join(checks)


def _endpoint_row(setup: dict[str, Any], name: str) -> list[str]:
    got = setup["endpoints"][name]
    bare_p95 = setup["endpoints"]["bare"]["p95_ms"]
    p95 = got["p95_ms"]
    ratio = p95 / bare_p95 if p95 is not None and bare_p95 else None
    return [
        setup["name"],
        BARE_LABEL if name == "bare" else name,
        _num(got["p50_ms"]),
        _num(p95),
        _num(got["rps"], 0),
        "1.0" if name == "bare" else _num(ratio),
        _num(got["alone_p50_ms"]),
        _num(setup.get("cold_ms", {}).get(name)),
        str(setup["queries"].get(name) or "–"),
        str(got["conflicts"]),
        str(sum(got["failures"].values())),
        endpoint_targets(name, p95, ratio),
    ]


def _blank_row(setup: dict[str, Any], measure: str, targets: str) -> list[str]:
    return [setup["name"], measure, *(["·"] * (len(COLUMNS) - 3)), targets]


def _scan_row(setup: dict[str, Any]) -> list[str]:
    scan = setup["scan"]
    first, repeat = scan["first_s"], scan["repeat_s"]
    text = (
        f"day's first {first:.2f} s ({scan['written']} new of {scan['due']} due) "
        f"{verdict(first < SCAN_S)}; repeat {repeat:.2f} s {verdict(repeat < SCAN_S)} "
        f"(target < {SCAN_S:.0f} s)"
    )
    return _blank_row(setup, "reminder scan", text)


def _rss_row(setup: dict[str, Any]) -> list[str]:
    peak = max(setup["rss_mb"])
    each = " + ".join(f"{mb:.0f}" for mb in setup["rss_mb"])
    text = f"{each} MB {verdict(peak < RSS_MB)} (target < {RSS_MB:.0f} MB per instance)"
    return _blank_row(setup, "server peak RSS", text)


def rows(setups: list[dict[str, Any]]) -> list[list[str]]:
    out = []
    for setup in setups:
        out += [_endpoint_row(setup, name) for name in ENDPOINTS]
        out += [_scan_row(setup), _rss_row(setup)]
    return out


def table(setups: list[dict[str, Any]]) -> str:
    """A Markdown table, padded so it also reads as plain text."""
    body = rows(setups)
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(COLUMNS)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(COLUMNS), rule, *(line(r) for r in body)])


def notes(setups: list[dict[str, Any]]) -> list[str]:
    """What the table cannot say in a cell: a saturated client, what failed."""
    out = []
    for setup in setups:
        for name, got in setup["endpoints"].items():
            if got["client_cpu"] >= CLIENT_BOUND:
                out.append(
                    f"{setup['name']} {name}: the load generator used {got['client_cpu']:.0%} "
                    "of a core; the client may have limited the rate"
                )
            if got["failures"]:
                out.append(f"{setup['name']} {name}: failed requests {got['failures']}")
        if setup["scan"]["errors"]:
            out.append(
                f"{setup['name']}: the reminder scan logged {setup['scan']['errors']} errors"
            )
    return out


def failed(setups: list[dict[str, Any]]) -> int:
    return sum(
        sum(got["failures"].values()) for s in setups for got in s["endpoints"].values()
    ) + sum(s["scan"]["errors"] for s in setups)
