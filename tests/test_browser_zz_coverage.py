"""Adding a page without checking it in the browser fails here: once the whole browser suite
has run and passed, every HTML page of the app must have been through visit() (screenshot and
accessibility check). Skipped when only part of the browser suite runs."""

from __future__ import annotations

import pytest
from browser_support import VISITED_ROUTES, html_page_routes, incomplete_run

pytestmark = pytest.mark.browser

# pages no browser test needs to open, with the reason
NOT_CHECKED: dict[str, str] = {}


def test_every_html_page_is_checked_in_the_browser(request):
    reason = incomplete_run(request.session)
    if reason:
        pytest.skip(f"page coverage is judged on a full browser run only: {reason}")
    unvisited = sorted(html_page_routes() - VISITED_ROUTES - set(NOT_CHECKED))
    assert unvisited == [], (
        "these HTML pages were never checked by visit() in a browser test "
        "(add a visit in tests/test_browser_pages.py):\n  " + "\n  ".join(unvisited)
    )
