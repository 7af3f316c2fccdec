"""Reading submitted forms into plain dicts for the domain functions."""

from __future__ import annotations

from typing import Any

from litestar import Request


async def form_dict(request: Request, *multi: str) -> dict[str, Any]:
    """Single values as strings; the names in ``multi`` as lists (checkbox groups)."""
    form = await request.form()
    data: dict[str, Any] = {k: v for k, v in form.items() if k != "_csrf_token"}
    for name in multi:
        data[name] = form.getall(name) if name in form else []
    return data


# Forms of a few short fields (logging in, passwords, people): a body larger than this is
# refused (413) before it is read, whatever the app-wide limit for uploads.
FORM_MAX_BYTES = 64 * 1024

# The longest page address followed after logging in (longer ones are not ours).
MAX_NEXT = 2048


def safe_next(target: str | None) -> str:
    """Only local paths: never send people to another site after logging in."""
    if (
        target
        and len(target) <= MAX_NEXT
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
    ):
        return target
    return "/"
