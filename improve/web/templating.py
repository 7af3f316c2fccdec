"""The one Jinja2 environment: autoescape on, filters and globals registered once."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from markupsafe import Markup

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


def render_partial(request: Request, name: str, context: dict[str, Any]) -> Markup:
    """A template rendered to HTML with the app's own environment, to be placed in a
    page as it is (a part kept by improve.snapshots)."""
    env = request.app.template_engine.engine
    return Markup(env.get_template(name).render(context))  # noqa: S704 (autoescaped by env)


def engine() -> JinjaTemplateEngine:
    return JinjaTemplateEngine.from_environment(environment())
