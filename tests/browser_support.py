"""A real `improve serve` process and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Every page a
test visits goes through `visit()`, which saves a screenshot under
test-artifacts/screenshots/ and runs axe-core on it (no serious or critical violations).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import TEST_DATABASE_URL, TEST_SECRET

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    """`improve serve` as a separate process, started from an empty directory so
    templates and static files must come from the installed package."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IMPROVE_")},
        "IMPROVE_DATABASE_URL": TEST_DATABASE_URL,
        "IMPROVE_MODE": "production",
        "IMPROVE_SECRET_KEY": TEST_SECRET,
        "IMPROVE_BASE_URL": base,
        "IMPROVE_LOG_LEVEL": "WARNING",
        "IMPROVE_SCHEDULER": "off",
        # the browser and the in-process client both log in from 127.0.0.1
        "IMPROVE_LOGIN_ADDRESS_ATTEMPTS": "100000",
    }
    script = Path(sys.executable).with_name("improve")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "improve.cli"]
    workdir = tempfile.mkdtemp(prefix="improve-serve-")
    log = open(Path(workdir) / "server.log", "w+")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            pytest.fail(f"improve serve did not become ready:\n{log.read()}")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=15)
    log.close()


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail("browser tests need Debian's Chromium: apt-get install chromium")


@pytest.fixture(scope="session")
async def browser():
    _require_chromium()
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    chromium = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest.fixture
async def page(browser, server):
    context = await browser.new_context(base_url=server, viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    yield page
    await context.close()


CHECKED_PAGES: set[str] = set()
VISITED_ROUTES: set[str] = set()  # route templates of the pages visit() checked


async def check_accessibility(page, name: str) -> None:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert serious == [], f"accessibility problems on {name}:\n" + "\n".join(serious)


# WCAG 1.4.10 Reflow: at 320 CSS pixels wide (a phone, or 1280 pixels at 400% zoom) the
# page must not scroll sideways; only a wide table's own box (div.scroll) may.
REFLOW_WIDTH = 320
# the innermost elements that reach past the edge, outside any div.scroll
_OVERFLOWING = """limit => [...document.querySelectorAll("body *")]
    .filter(e => !e.closest(".scroll") && e.getBoundingClientRect().right > limit)
    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > limit))
    .slice(0, 5).map(e => e.outerHTML.slice(0, 100))"""


async def check_reflow(page, name: str) -> None:
    wide = page.viewport_size
    await page.set_viewport_size({"width": REFLOW_WIDTH, "height": 640})
    try:
        width = await page.evaluate("document.documentElement.scrollWidth")
        too_wide = width > REFLOW_WIDTH + 1
        culprits = await page.evaluate(_OVERFLOWING, REFLOW_WIDTH + 1) if too_wide else []
    finally:
        await page.set_viewport_size(wide)
    assert width <= REFLOW_WIDTH + 1, f"{name} scrolls sideways at {REFLOW_WIDTH}px: {culprits}"


async def visit(page, name: str) -> None:
    """Screenshot, accessibility and reflow checks of the page the browser is on."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    await check_accessibility(page, name)
    await check_reflow(page, name)
    CHECKED_PAGES.add(name)
    route = route_of(urlsplit(page.url).path)
    if route:
        VISITED_ROUTES.add(route)


async def log_in_with_form(page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state("networkidle")


# --- every HTML page is checked ----------------------------------------------------------------
# visit() records the route template of each page it checks. When the whole browser suite
# runs, tests/test_browser_zz_coverage.py (moved to the end of the run) fails naming every
# HTML page that no test visited; when only part of it runs, that test is skipped.

TESTS_DIR = Path(__file__).resolve().parent
COVERAGE_FILE = "test_browser_zz_coverage.py"
_PARAM = re.compile(r"\{\w+:(\w+)\}")
_PARAM_PATTERNS = {"int": r"\d+", "path": r".+"}
_run = {"deselected": [], "failed": [], "finished": set()}


def html_page_routes() -> set[str]:
    """The app's HTML pages: GET routes whose handler returns a Template (the API, the
    schema, static files and downloads return something else)."""
    from improve.app import create_app

    pages = set()
    for route in create_app().routes:
        if route.path.startswith(("/api/", "/schema/", "/static")):
            continue
        if route.path == "/schema":  # the API reference, rendered by improve.api.reference
            pages.add(route.path)
            continue
        for handler in getattr(route, "route_handlers", ()):
            returns = str(getattr(handler.fn, "__annotations__", {}).get("return", ""))
            if "GET" in handler.http_methods and re.search(r"\bTemplate\b", returns):
                pages.add(route.path)
    return pages


_patterns: list[tuple[int, re.Pattern, str]] = []


def route_of(path: str) -> str | None:
    """The route template a concrete path belongs to ('/cases/7' -> '/cases/{case_id:int}'),
    preferring fixed segments over parameters; None when it is no HTML page."""
    if not _patterns:
        for route in html_page_routes():
            pieces, last = [], 0
            for m in _PARAM.finditer(route):
                pieces += [re.escape(route[last : m.start()]), _PARAM_PATTERNS.get(m[1], "[^/]+")]
                last = m.end()
            pattern = re.compile("".join([*pieces, re.escape(route[last:])]))
            _patterns.append((len(_PARAM.findall(route)), pattern, route))
        _patterns.sort(key=lambda entry: (entry[0], entry[2]))
    return next((route for _, p, route in _patterns if p.fullmatch(path)), None)


def _browser_file(nodeid: str) -> str | None:
    name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return name if name.startswith("test_browser_") and name != COVERAGE_FILE else None


def pytest_collection_modifyitems(items):
    """The coverage check runs after every other test."""
    last = [item for item in items if COVERAGE_FILE in item.nodeid]
    items[:] = [item for item in items if COVERAGE_FILE not in item.nodeid] + last


def pytest_deselected(items):
    _run["deselected"] += [item.nodeid for item in items if _browser_file(item.nodeid)]


def pytest_runtest_logreport(report):
    if not _browser_file(report.nodeid):
        return
    if report.failed:
        _run["failed"].append(report.nodeid)
    if report.when == "teardown":
        _run["finished"].add(report.nodeid)


def incomplete_run(session) -> str | None:
    """Why the browser suite has not run in full (and passed) so far, or None."""
    if any("::" in arg for arg in session.config.args):
        return "tests were chosen one by one"
    if _run["deselected"]:
        return f"{len(_run['deselected'])} browser test(s) were deselected"
    expected = {p.name for p in TESTS_DIR.glob("test_browser_*.py")} - {COVERAGE_FILE}
    items = [item.nodeid for item in session.items if _browser_file(item.nodeid)]
    missing = expected - {_browser_file(nodeid) for nodeid in items}
    if missing:
        return f"not collected: {', '.join(sorted(missing))}"
    if _run["failed"]:
        return f"{len(_run['failed'])} browser test(s) failed"
    unfinished = [nodeid for nodeid in items if nodeid not in _run["finished"]]
    if unfinished:
        return f"{len(unfinished)} browser test(s) have not run"
    return None
