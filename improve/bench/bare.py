"""The yardstick: a bare Litestar app rendering a small Jinja template, no database.

Served by uvicorn exactly as `improve serve` serves the real app (same options), and
loaded by the same load generator, so every figure of the real app can be read as a
multiple of what the framework and server alone cost on this machine:
``python -m uvicorn improve.bench.bare:create_app --factory``.
"""

from __future__ import annotations

import jinja2
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

PATH = "/bare"
TEMPLATE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
<h1>{{ title }}</h1>
<table>
{% for row in rows %}<tr><th scope="row">{{ row.name }}</th><td>{{ row.value }}</td></tr>
{% endfor %}</table>
</body>
</html>
"""


@get(PATH)
async def bare() -> Template:
    rows = [{"name": f"Row {n}", "value": n * 7} for n in range(10)]
    return Template("bare.html", context={"title": "Bare endpoint", "rows": rows})


def create_app() -> Litestar:
    environment = jinja2.Environment(
        loader=jinja2.DictLoader({"bare.html": TEMPLATE}), autoescape=True
    )
    return Litestar(
        route_handlers=[bare],
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment)),
        debug=False,
    )
