"""The benchmark (`python -m improve.bench`) runs end to end and prints every row.

Only `--quick`: 20 services, about a second of load per endpoint, so this stays well
under a minute per database. The real run is by hand (see README, "Benchmark"). On
PostgreSQL (IMPROVE_TEST_DATABASE_URL=postgresql://...) it runs there too, in a
database of its own on the same server: the bench never touches the suite's database.
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlsplit

from conftest import TEST_DATABASE_URL

from improve.bench import report

ROWS = (report.BARE_LABEL, *report.ENDPOINTS[1:], "reminder scan", "server peak RSS")


def _command() -> tuple[list[str], list[str]]:
    databases = ["sqlite"]
    command = [sys.executable, "-m", "improve.bench", "--quick"]
    if TEST_DATABASE_URL.startswith(("postgresql://", "postgres://")):
        databases.append("postgres")
        server = urlsplit(TEST_DATABASE_URL)._replace(path="").geturl()
        command += ["--postgres-url", server]
    return [*command, "--databases", ",".join(databases)], databases


def test_the_quick_benchmark_prints_every_row():
    command, databases = _command()
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    for database in databases:
        for measure in ROWS:
            row = rf"^\| {database}\s+\| {re.escape(measure)}\s+\|"
            assert re.search(row, done.stdout, re.MULTILINE), f"no row {database} / {measure}"
    assert "0 failed requests; broken setups: none" in done.stdout
    # every endpoint answered (a dash would mean no successful request)
    figures = [line for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    for line in figures:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[1] not in ("reminder scan", "server peak RSS"):
            assert cells[3] != "–", line
