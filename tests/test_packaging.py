"""`pip install .` carries everything the service needs; code finds it via the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from improve import paths

ROOT = Path(__file__).resolve().parents[1]


def test_data_directories_are_found_through_the_package():
    assert (paths.TEMPLATES_DIR / "base.html").is_file()
    assert (paths.PLAYBOOKS_DIR / "themes").is_dir()
    assert (paths.STATIC_DIR / "htmx.min.js").is_file()
    package = Path(paths.__file__).parent
    for folder in (paths.TEMPLATES_DIR, paths.PLAYBOOKS_DIR):
        assert folder.parent in (package, package.parent)


def test_the_wheel_carries_code_templates_playbooks_jobs_and_migrations(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:  # no hatchling in this environment: build isolated
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-q",
                "-w",
                str(tmp_path),
                str(ROOT),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("improve-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "improve/app.py",
        "improve/templates/base.html",
        "improve/templates/services/home.html",
        "improve/playbooks/frameworks/saf.yaml",
        "improve/static/htmx.min.js",
        "improve/static/style.css",
        "jobs/__init__.py",
    ):
        assert expected in names, expected
    assert any(n.startswith("improve/accounts/piccolo_migrations/accounts_") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "improve = improve.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
