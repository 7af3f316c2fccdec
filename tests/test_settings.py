"""Configuration: one typed module, documented defaults, refusal of weak production keys."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from improve import settings
from improve.settings import SettingsError, from_environ

ROOT = Path(__file__).resolve().parents[1]
STRONG = "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789"


def test_defaults_are_documented_values():
    s = from_environ({"IMPROVE_MODE": "dev"})
    assert s.database_url == "sqlite:///var/improve.sqlite"
    assert s.sqlite_path == Path("var/improve.sqlite")
    assert s.timezone == "Europe/London"
    assert s.mode == "dev" and len(s.secret_key) >= 32  # dev generates a throwaway key


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is not set"),
        ("changeme", "is a placeholder"),
        ("short-key", "is too short"),
        ("a" * 40, "is too repetitive"),
    ],
)
def test_production_refuses_missing_or_weak_key(key, problem):
    with pytest.raises(SettingsError) as refused:
        from_environ({"IMPROVE_SECRET_KEY": key}).check()
    message = str(refused.value)
    assert problem in message and "IMPROVE_SECRET_KEY" in message and "\n" not in message


def test_production_accepts_strong_key():
    assert from_environ({"IMPROVE_SECRET_KEY": STRONG}).check().mode == "production"


def test_secret_read_from_file(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text(STRONG + "\n")
    s = from_environ({"IMPROVE_SECRET_KEY_FILE": str(secret_file)}).check()
    assert s.secret_key == STRONG


def test_unreadable_secret_file_is_named(tmp_path):
    with pytest.raises(SettingsError, match="IMPROVE_SECRET_KEY_FILE"):
        from_environ({"IMPROVE_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_bad_values_are_named():
    with pytest.raises(SettingsError, match="IMPROVE_SMTP_PORT"):
        from_environ({"IMPROVE_MODE": "dev", "IMPROVE_SMTP_PORT": "twenty"})
    with pytest.raises(SettingsError, match="IMPROVE_TIMEZONE"):
        from_environ({"IMPROVE_MODE": "dev", "IMPROVE_TIMEZONE": "Mars/Olympus"}).check()
    with pytest.raises(SettingsError, match="IMPROVE_MODE"):
        from_environ({"IMPROVE_MODE": "yolo"})


def test_https_base_url_makes_cookies_secure():
    assert from_environ(
        {"IMPROVE_MODE": "dev", "IMPROVE_BASE_URL": "https://x.example"}
    ).secure_cookies
    assert not from_environ({"IMPROVE_MODE": "dev"}).secure_cookies


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    table_names = set(re.findall(r"^\|\s*`(IMPROVE_[A-Z_]+)`", readme, re.M))
    declared = {v.name for v in settings.VARIABLES}
    assert declared - table_names == set(), "add these to the README configuration table"
    assert table_names - declared == set(), "the README documents variables the code ignores"


def test_only_the_settings_module_reads_the_environment():
    readers = []
    for path in (ROOT / "improve").rglob("*.py"):
        # the benchmark is a harness, not the service: it sets up its servers' environment
        if path.name == "settings.py" or "bench" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text()
        if re.search(r"os\.environ|os\.getenv|getenv\(", text):
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_every_name_the_settings_module_reads_is_declared():
    text = (ROOT / "improve" / "settings.py").read_text()
    used = set(re.findall(r'_(?:read|int|float|choice)\("(IMPROVE_[A-Z_]+)"', text))
    assert used <= {v.name for v in settings.VARIABLES}


def test_serve_refuses_to_start_without_a_key(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "IMPROVE_MODE": "production",
        "IMPROVE_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite",
    }
    result = subprocess.run(
        [sys.executable, "-m", "improve.cli", "serve"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "IMPROVE_SECRET_KEY is not set" in lines[0]
