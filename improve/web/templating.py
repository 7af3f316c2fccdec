"""The one Jinja2 environment: autoescape on, filters and globals registered once."""

from __future__ import annotations

from datetime import date, datetime

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine

from improve import clock
from improve.accounts.people import ORG_KIND_LABELS, ROLE_LABELS
from improve.paths import TEMPLATES_DIR
from improve.settings import get_settings


def _when(value: datetime | None) -> str:
    if value is None:
        return "never"
    return clock.local(value).strftime("%-d %b %Y, %H:%M")


def _day(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = clock.local(value).date()
    return value.strftime("%-d %b %Y")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml", "ics"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["day"] = _day
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals["ORG_KIND_LABELS"] = ORG_KIND_LABELS
    env.globals["max_mb"] = get_settings().upload_max_mb
    return env


def engine() -> JinjaTemplateEngine:
    return JinjaTemplateEngine.from_environment(environment())
