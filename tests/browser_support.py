"""A real `improve serve` process and Debian's Chromium driven by Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Every page a
test visits goes through `visit()`, which saves a screenshot under
test-artifacts/screenshots/ and runs axe-core on it (no serious or critical violations).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


async def visit(page, name: str) -> None:
    """Screenshot and accessibility check of the page the browser is on."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    await check_accessibility(page, name)
    CHECKED_PAGES.add(name)


async def log_in_with_form(page, email: str, password: str) -> None:
    await page.goto("/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state("networkidle")
