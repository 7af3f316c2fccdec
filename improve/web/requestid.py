"""A request id per request: in logs, in the X-Request-ID header and on error pages."""

from __future__ import annotations

import secrets
from typing import Any


def request_id(scope: Any) -> str:
    state = scope.setdefault("state", {})
    rid = state.get("request_id")
    if rid is None:
        rid = state["request_id"] = secrets.token_hex(8)
    return rid
