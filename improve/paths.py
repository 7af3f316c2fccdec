"""Where the package's own files are. Never the current directory.

Installed from a wheel, templates/ and playbooks/ sit inside the improve package
(pyproject's force-include). In a source checkout they sit beside it.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


TEMPLATES_DIR = _data_dir("templates")
PLAYBOOKS_DIR = _data_dir("playbooks")
STATIC_DIR = PACKAGE_DIR / "static"
