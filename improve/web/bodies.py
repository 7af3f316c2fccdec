"""Request bodies: JSON nested too deeply is the client's mistake, answered 400.

msgspec (Litestar's decoder) and the standard library's json both raise RecursionError
on arrays or objects nested deeper than Python's recursion limit (about a thousand), and
Litestar turns only decode errors, not that, into a 400: 100,000 nested brackets gave a
500. Both decoders are wrapped here, where the body is decoded, so a RecursionError
from anywhere else still shows as the bug it is.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Request
from litestar.exceptions import ClientException

TOO_DEEP = "The JSON is nested too deeply: lists and objects inside one another, too many levels."


class AppRequest(Request):
    """The app's request class (``Litestar(request_class=...)``)."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise ClientException(TOO_DEEP) from None


def load_json(text: str | bytes) -> Any:
    """``json.loads`` that raises ValueError, not RecursionError, for JSON nested too deeply
    (a ValueError as json.JSONDecodeError is one, so callers catch both the same way)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(TOO_DEEP) from None
