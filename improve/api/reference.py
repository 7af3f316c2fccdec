"""The API reference page at /schema: the app's own OpenAPI document, read on the server
and shown as one plain page in the site's layout.

Why our own page: the viewers Litestar offers (Redoc, Swagger UI…) load their script from
a CDN and run inline script, which our Content-Security-Policy rightly refuses (and this
service may run where no CDN is reachable). A reader of the API wants the operations, their
parameters and the shapes of what goes in and out; a server-rendered page gives all of it,
works with a keyboard and a screen reader, and prints.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin
from markupsafe import Markup

from improve.web.templating import csrf_input

METHOD_ORDER = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"
# Constraints worth telling a reader, in the words the page uses.
LIMITS = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minimum", "at least {}"),
    ("maximum", "at most {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)


def type_of(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema in words: {"text": ..., "ref": name or None} (a ref links to its shape)."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF_PREFIX)
        return {"text": name, "ref": name}
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [type_of(s) for s in schema[key]]
            refs = [p["ref"] for p in parts if p["ref"]]
            return {"text": " or ".join(p["text"] for p in parts), "ref": refs[0] if refs else None}
    kind = schema.get("type")
    if isinstance(kind, list):
        return {"text": " or ".join(kind), "ref": None}
    if kind == "array":
        inner = type_of(schema.get("items", {}))
        return {"text": f"list of {inner['text']}", "ref": inner["ref"]}
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        inner = type_of(schema["additionalProperties"])
        if inner["text"] != "any":
            return {"text": f"map of {inner['text']}", "ref": inner["ref"]}
    text = schema.get("format") or kind or "any"
    return {"text": text, "ref": None}


def limits_of(schema: dict[str, Any]) -> list[str]:
    """The constraints and allowed values a field's schema states, in words."""
    out = [words.format(_number(schema[key])) for key, words in LIMITS if key in schema]
    if "enum" in schema:
        out.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "default" in schema and schema["default"] not in ("", None, []):
        out.append(f"default {schema['default']}")
    return out


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _body_of(content: dict[str, Any] | None) -> dict[str, Any] | None:
    if not content:
        return None
    media, spec = next(iter(content.items()))
    return {"media": media, **type_of(spec.get("schema", {}))}


def _operation(path: str, method: str, op: dict[str, Any]) -> dict[str, Any]:
    responses = op.get("responses", {})
    success = sorted(code for code in responses if code.startswith("2"))
    first = responses[success[0]] if success else {}
    return {
        "id": op.get("operationId") or f"{method}-{path}",
        "method": method.upper(),
        "path": path,
        "summary": op.get("summary", ""),
        "description": op.get("description", ""),
        "token": bool(op.get("security")),
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": bool(p.get("required")),
                "type": type_of(p.get("schema", {})),
                "limits": limits_of(p.get("schema", {})),
                "description": p.get("description", ""),
            }
            for p in op.get("parameters", [])
        ],
        "body": _body_of(op.get("requestBody", {}).get("content")),
        "status": success[0] if success else "",
        "returns": _body_of(first.get("content")),
        "errors": sorted(code for code in responses if not code.startswith("2")),
    }


def _group(path: str) -> str:
    """Operations are grouped by the resource their path starts with (cases, services…)."""
    parts = [p for p in path.split("/") if p and not p.startswith("{")]
    return parts[2] if len(parts) > 2 and parts[:2] == ["api", "v1"] else parts[0]


def _shape(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    required = set(schema.get("required", []))
    return {
        "name": name,
        "description": schema.get("description", ""),
        "allowed": schema.get("enum", []),
        "fields": [
            {
                "name": field,
                "required": field in required,
                "type": type_of(spec),
                "limits": limits_of(spec),
                "description": spec.get("description", ""),
            }
            for field, spec in schema.get("properties", {}).items()
        ],
    }


def reference(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document as the page shows it: operations by resource, then shapes."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path, item in sorted(document.get("paths", {}).items()):
        for method in METHOD_ORDER:
            if method in item:
                groups[_group(path)].append(_operation(path, method, item[method]))
    schemas = document.get("components", {}).get("schemas", {})
    return {
        "info": document.get("info", {}),
        "groups": sorted(groups.items()),
        "shapes": [_shape(name, schemas[name]) for name in sorted(schemas)],
    }


class ReferencePage(OpenAPIRenderPlugin):
    """Serves the reference at the schema path's root. The document never changes while
    the app runs, so its part of the page is rendered once; the shell (who is logged in,
    the CSRF field of the log-out form) is rendered per request."""

    def __init__(self) -> None:
        super().__init__(path="/")
        self._main: Markup | None = None

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        env = request.app.template_engine.engine
        if self._main is None:
            main = env.get_template("api/_reference_main.html").render(reference(openapi_schema))
            self._main = Markup(main)  # noqa: S704 (autoescaped by env)
        page = env.get_template("api/reference.html").render(
            request=request,
            csrf_input=csrf_input(request),
            viewer=request.scope.get("user"),
            main=self._main,
        )
        return page.encode()
