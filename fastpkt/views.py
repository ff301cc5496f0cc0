"""Notebook views (``_repr_html_``) shared by fastpkt's objects."""
from __future__ import annotations

import html
from typing import Any

_HTML_ROWS = 20


def table_html(obj: Any, title: str) -> str:
    """A table object whose rows are not read yet: its repr (reading would consume it)."""
    return "<p><b>%s</b></p><pre>%s</pre>" % (html.escape(title), html.escape(repr(obj)))
