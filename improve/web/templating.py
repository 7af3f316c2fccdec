"""The one Jinja2 environment: autoescape on, filters and globals registered once."""

from __future__ import annotations

import html
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from improve import clock
from improve.accounts.people import ORG_KIND_LABELS, ROLE_LABELS
from improve.paths import TEMPLATES_DIR
from improve.settings import get_settings
from improve.words import file_size


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
    env.filters["filesize"] = file_size
    env.globals["ROLE_LABELS"] = ROLE_LABELS
    env.globals["ORG_KIND_LABELS"] = ORG_KIND_LABELS
    env.globals["max_mb"] = get_settings().upload_max_mb
    return env


# Where a kept part's forms take their CSRF input: an HTML comment, which no escaped
# user text can contain ("<" is always escaped), filled in per request by fill_csrf.
CSRF_SLOT = Markup("<!--csrf-input-->")


def csrf_input(request: Request) -> Markup:
    """The hidden form field Litestar's own template responses give as csrf_input."""
    token = value_or_default(ScopeState.from_scope(request.scope).csrf_token, "")
    return Markup(f'<input type="hidden" name="_csrf_token" value="{html.escape(token)}" />')  # noqa: S704


def render_partial(
    request: Request, name: str, context: dict[str, Any], *, keep: bool = False
) -> Markup:
    """A template rendered to HTML with the app's own environment, to be placed in a
    page as it is. ``keep``: it will be kept and served to others (improve.snapshots),
    so its forms get CSRF_SLOT instead of this request's token."""
    env = request.app.template_engine.engine
    context = {"csrf_input": CSRF_SLOT if keep else csrf_input(request), **context}
    return Markup(env.get_template(name).render(context))  # noqa: S704 (autoescaped by env)


def fill_csrf(request: Request, kept: str) -> Markup:
    """A kept part with this request's CSRF token in its forms."""
    return Markup(str(kept).replace(CSRF_SLOT, csrf_input(request)))  # noqa: S704


def engine() -> JinjaTemplateEngine:
    return JinjaTemplateEngine.from_environment(environment())
