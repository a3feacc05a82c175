"""Reading the desk's pages as a browser does: the CSRF token a form carries."""

from __future__ import annotations

import re

from werkzeug.test import TestResponse

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(page: TestResponse) -> str:
    """Return the CSRF token of the first form on `page`."""
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found is not None, "no CSRF token on the page"
    return found.group(1)
