"""CQC's assessment frameworks as data.

Each version is one YAML file in playbooks/frameworks/: the five key questions, the
regulations, and the version's assessment items (the SAF's 34 quality statements, or
the coming adult social care framework's key lines of enquiry). Findings, playbook
actions and self-assessments refer to items by their stable ids. A new version is a new
file: nothing here names a version.

Loading validates every file and fails with the file, the entry and the field named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from improve import clock
from improve.paths import PLAYBOOKS_DIR

FRAMEWORKS_DIR = PLAYBOOKS_DIR / "frameworks"

# Unchanged through every version (domain.md): the key questions and the ratings.
KEY_QUESTIONS = ("safe", "effective", "caring", "responsive", "well_led")
KEY_QUESTION_TITLES = {
    "safe": "Safe",
    "effective": "Effective",
    "caring": "Caring",
    "responsive": "Responsive",
    "well_led": "Well-led",
}
# The sections of a file that hold assessment items, and what each kind is called.
ITEM_SECTIONS = {
    "quality_statements": "quality statement",
    "key_lines_of_enquiry": "key line of enquiry",
}


class FrameworkError(ValueError):
    """A framework file is wrong; the message names the file, entry and field."""


@dataclass(frozen=True)
class Regulation:
    id: str
    title: str
    summary: str


@dataclass(frozen=True)
class Item:
    """A quality statement (SAF) or key line of enquiry (later frameworks)."""

    id: str
    kind: str
    key_question: str
    title: str
    description: str
    regulations: tuple[str, ...]


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    in_force_from: dt.date
    key_questions: dict[str, str]  # id -> the question, in our words
    regulations: dict[str, Regulation]
    items: dict[str, Item] = field(default_factory=dict)
    file: str = ""

    def items_for(self, key_question: str) -> list[Item]:
        return [i for i in self.items.values() if i.key_question == key_question]


def _need(entry: dict[str, Any], name: str, where: str, kind: type = str) -> Any:
    value = entry.get(name)
    if value is None or value == "":
        raise FrameworkError(f"{where}: field '{name}' is missing")
    if not isinstance(value, kind):
        raise FrameworkError(f"{where}: field '{name}' must be a {kind.__name__}")
    return value


def _parse(data: Any, source: str) -> Framework:
    if not isinstance(data, dict):
        raise FrameworkError(f"{source}: the file must hold a mapping")
    fid = _need(data, "id", source)
    where = f"{source} ({fid})"
    when = data.get("in_force_from")
    if not isinstance(when, dt.date):
        raise FrameworkError(f"{where}: field 'in_force_from' must be a date (YYYY-MM-DD)")
    key_questions: dict[str, str] = {}
    for n, entry in enumerate(_need(data, "key_questions", where, list), 1):
        at = f"{where}, key_questions entry {n}"
        kq = _need(entry, "id", at)
        if kq not in KEY_QUESTIONS:
            raise FrameworkError(f"{at}: field 'id' must be one of {', '.join(KEY_QUESTIONS)}")
        key_questions[kq] = str(entry.get("question", ""))
    if set(key_questions) != set(KEY_QUESTIONS):
        missing = ", ".join(k for k in KEY_QUESTIONS if k not in key_questions)
        raise FrameworkError(f"{where}: key_questions lacks {missing}")
    regulations: dict[str, Regulation] = {}
    for n, entry in enumerate(_need(data, "regulations", where, list), 1):
        at = f"{where}, regulations entry {n}"
        rid = str(_need(entry, "id", at, (str, int)))  # type: ignore[arg-type]
        regulations[rid] = Regulation(rid, _need(entry, "title", at), str(entry.get("summary", "")))
    items: dict[str, Item] = {}
    for section, kind in ITEM_SECTIONS.items():
        for n, entry in enumerate(data.get(section) or [], 1):
            at = f"{where}, {section} entry {n}"
            iid = _need(entry, "id", at)
            at = f"{where}, {section} '{iid}'"
            if iid in items:
                raise FrameworkError(f"{at}: the id is used twice")
            kq = _need(entry, "key_question", at)
            if kq not in KEY_QUESTIONS:
                raise FrameworkError(f"{at}: field 'key_question' is not a key question: {kq}")
            regs = tuple(str(r) for r in entry.get("regulations") or [])
            unknown = [r for r in regs if r not in regulations]
            if unknown:
                raise FrameworkError(f"{at}: field 'regulations' names unknown {unknown}")
            items[iid] = Item(
                id=iid,
                kind=kind,
                key_question=kq,
                title=_need(entry, "title", at),
                description=str(entry.get("we_statement") or entry.get("description") or ""),
                regulations=regs,
            )
    if not items:
        raise FrameworkError(f"{where}: no quality_statements or key_lines_of_enquiry")
    return Framework(
        fid, _need(data, "title", where), when, key_questions, regulations, items, source
    )


def load_file(path: Path) -> Framework:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FrameworkError(f"{path.name}: not valid YAML ({exc})") from None
    return _parse(data, path.name)


def load_all(folder: Path = FRAMEWORKS_DIR) -> dict[str, Framework]:
    frameworks: dict[str, Framework] = {}
    for path in sorted(folder.glob("*.yaml")):
        framework = load_file(path)
        if framework.id in frameworks:
            raise FrameworkError(f"{path.name}: framework id '{framework.id}' is used twice")
        frameworks[framework.id] = framework
    if not frameworks:
        raise FrameworkError(f"no framework files in {folder}")
    return frameworks


@cache
def frameworks() -> dict[str, Framework]:
    """Every framework version, loaded and validated once (at start-up)."""
    return load_all()


def in_force(on: dt.date | None = None) -> Framework:
    """The version in force on a date: the latest whose start is not after it."""
    on = on or clock.today()
    started = [f for f in frameworks().values() if f.in_force_from <= on]
    chosen = max(started or frameworks().values(), key=lambda f: f.in_force_from)
    return chosen


def get(framework_id: str) -> Framework:
    try:
        return frameworks()[framework_id]
    except KeyError:
        raise FrameworkError(f"no framework with id '{framework_id}'") from None
