"""Playbooks: proven practice as data, one YAML file per Driving Improvement theme.

Loading validates every file and fails with the file, the entry and the field named.
Organisations may add playbooks of their own (uploaded YAML, the same validation); a
plan keeps the playbook version it was built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from improve import framework
from improve.framework import KEY_QUESTIONS
from improve.measures import catalog
from improve.paths import PLAYBOOKS_DIR
from improve.services.tables import ServiceType

THEMES_DIR = PLAYBOOKS_DIR / "themes"

THEMES = {
    "leadership": "Leadership",
    "cultural_change": "Cultural change",
    "person_centred_care": "Person-centred care",
    "staffing": "Staffing",
    "working_with_partners": "Working with partners",
}
OWNER_ROLES = {
    "registered_manager": "Registered manager",
    "deputy_manager": "Deputy manager",
    "quality_lead": "Provider quality lead",
    "nominated_individual": "Nominated individual",
}
MEASURES = catalog.KEYS  # one list: the measures catalogue
_ACTION_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9][a-z0-9-]*$")
# A playbook is a mapping of actions whose fields are words or lists of words: four
# levels. Deeper nesting is refused before the document is built (PyYAML's pure-Python
# composer recurses once per level and would hit Python's recursion limit).
MAX_DEPTH = 8
# libyaml's parser when PyYAML was built with it (several times faster), else PyYAML's
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENING = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSING = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


class PlaybookError(ValueError):
    """A playbook file is wrong; the message names the file, entry and field."""


@dataclass(frozen=True)
class Rules:
    """Which findings an action answers: a finding matches when any listed item does."""

    regulations: tuple[str, ...]
    key_questions: tuple[str, ...]
    quality_statements: tuple[str, ...]
    service_types: tuple[str, ...]  # empty: every type


@dataclass(frozen=True)
class ActionTemplate:
    id: str
    theme: str
    title: str
    steps: tuple[str, ...]
    why: str
    owner_role: str
    due_days: int
    evidence: tuple[str, ...]
    measure: str | None
    regulations: tuple[str, ...]
    quality_statements: tuple[str, ...]
    answers: Rules


@dataclass(frozen=True)
class Playbook:
    id: str
    theme: str
    title: str
    version: int
    summary: str
    actions: tuple[ActionTemplate, ...]
    source: str = ""


def _field(
    entry: dict[str, Any], name: str, where: str, kind: type | tuple = str, required: bool = True
) -> Any:
    value = entry.get(name)
    if value is None or value == "" or value == []:
        if required:
            raise PlaybookError(f"{where}: field '{name}' is missing")
        return value
    if not isinstance(value, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        names = " or ".join("list" if k is list else k.__name__ for k in kinds)
        raise PlaybookError(f"{where}: field '{name}' must be a {names}")
    return value


def _strings(
    entry: dict[str, Any], name: str, where: str, allowed: Any = None, required: bool = True
) -> tuple[str, ...]:
    values = _field(entry, name, where, list, required) or []
    if any(isinstance(v, list | dict) for v in values):
        raise PlaybookError(f"{where}: field '{name}' must be a list of words, not of lists")
    out = tuple(str(v) for v in values)
    if allowed is not None:
        unknown = [v for v in out if v not in allowed]
        if unknown:
            raise PlaybookError(f"{where}: field '{name}' has unknown values {unknown}")
    return out


def _action(entry: Any, theme: str, where: str) -> ActionTemplate:
    if not isinstance(entry, dict):
        raise PlaybookError(f"{where}: must be a mapping")
    aid = _field(entry, "id", where)
    where = f"{where.rsplit(',', 1)[0]}, action '{aid}'"
    if not _ACTION_ID.match(aid) or not aid.startswith(theme + "."):
        raise PlaybookError(f"{where}: field 'id' must look like '{theme}.some-slug'")
    fw = framework.get("saf")
    role = _field(entry, "owner_role", where)
    if role not in OWNER_ROLES:
        raise PlaybookError(f"{where}: field 'owner_role' must be one of {', '.join(OWNER_ROLES)}")
    due = _field(entry, "due_days", where, int)
    if not 1 <= due <= 365:
        raise PlaybookError(f"{where}: field 'due_days' must be between 1 and 365")
    measure = entry.get("measure")
    if measure is not None and (not isinstance(measure, str) or measure not in MEASURES):
        raise PlaybookError(f"{where}: field 'measure' is not a known measure: {measure}")
    answers = _field(entry, "answers", where, dict)
    rules = Rules(
        regulations=_strings(answers, "regulations", f"{where} answers", fw.regulations, False),
        key_questions=_strings(answers, "key_questions", f"{where} answers", KEY_QUESTIONS, False),
        quality_statements=_strings(
            answers, "quality_statements", f"{where} answers", fw.items, False
        ),
        service_types=_strings(
            answers, "service_types", f"{where} answers", {t.value for t in ServiceType}, False
        ),
    )
    if not (rules.regulations or rules.key_questions or rules.quality_statements):
        raise PlaybookError(
            f"{where}: 'answers' must name a regulation, key question or quality statement"
        )
    return ActionTemplate(
        id=aid,
        theme=theme,
        title=_field(entry, "title", where),
        steps=_strings(entry, "steps", where),
        why=" ".join(_field(entry, "why", where).split()),
        owner_role=role,
        due_days=due,
        evidence=_strings(entry, "evidence", where),
        measure=measure,
        regulations=_strings(entry, "regulations", where, fw.regulations),
        quality_statements=_strings(entry, "quality_statements", where, fw.items),
        answers=rules,
    )


def parse(data: Any, source: str, *, themes: tuple[str, ...] = tuple(THEMES)) -> Playbook:
    if not isinstance(data, dict):
        raise PlaybookError(f"{source}: the file must hold a mapping")
    pid = _field(data, "id", source)
    where = f"{source} ({pid})"
    theme = str(data.get("theme") or pid)
    if theme not in themes:
        raise PlaybookError(f"{where}: field 'theme' must be one of {', '.join(themes)}")
    version = _field(data, "version", where, int)
    actions = _field(data, "actions", where, list)
    parsed = tuple(
        _action(a, theme, f"{where}, actions entry {n}") for n, a in enumerate(actions, 1)
    )
    seen: set[str] = set()
    for action in parsed:
        if action.id in seen:
            raise PlaybookError(f"{where}, action '{action.id}': the id is used twice")
        seen.add(action.id)
    return Playbook(
        pid,
        theme,
        _field(data, "title", where),
        version,
        " ".join(str(data.get("summary") or "").split()),
        parsed,
        source,
    )


def load_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``, safely: no tags beyond plain data (a safe loader),
    no anchors or aliases, at most MAX_DEPTH levels of nesting.

    Aliases are refused, not expanded: a few hundred bytes of nested aliases ("billion
    laughs") stand for billions of values, and anything that walks them (validation,
    an error message, a page) would stop the process. The check reads the parser's
    events before any document is built, so a refused file costs one quick pass."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            anchor = getattr(event, "anchor", None)
            if anchor is not None:
                mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
                raise PlaybookError(
                    f"{source}: YAML anchors and aliases are not accepted (found "
                    f"{mark}{anchor} on line {event.start_mark.line + 1}): "
                    "write each value out in full"
                )
            if isinstance(event, _OPENING):
                depth += 1
                if depth > MAX_DEPTH:
                    raise PlaybookError(
                        f"{source}: lists and mappings nested more than {MAX_DEPTH} deep "
                        "are not accepted"
                    )
            elif isinstance(event, _CLOSING):
                depth -= 1
        # the same safe loader, on a document now known to hold no alias
        return yaml.load(text, Loader=_LOADER)  # noqa: S506
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{source}: not valid YAML ({exc})") from None


def parse_text(text: str, source: str) -> Playbook:
    return parse(load_yaml(text, source), source)


def load_folder(folder: Path = THEMES_DIR) -> dict[str, Playbook]:
    books: dict[str, Playbook] = {}
    ids: set[str] = set()
    for path in sorted(folder.glob("*.yaml")):
        book = parse_text(path.read_text(encoding="utf-8"), path.name)
        if book.id in books:
            raise PlaybookError(f"{path.name}: playbook id '{book.id}' is used twice")
        clash = ids & {a.id for a in book.actions}
        if clash:
            raise PlaybookError(f"{path.name}: action ids also used elsewhere: {sorted(clash)}")
        ids |= {a.id for a in book.actions}
        books[book.id] = book
    return books


@cache
def standard() -> dict[str, Playbook]:
    """The playbooks that ship with improve, loaded and validated once."""
    return load_folder()
