"""The area a page shows, written into its index.html (a pure module).

The page must know its area before the first snapshot arrives: which language to speak when
the URL names none (the pack's first), which way to write, the clock's time zone and the map
to register. The server adds them to the ``<html>`` element as one ``data-pack`` attribute
(JSON, HTML-escaped), so the page needs no inline script (the CSP forbids it) and no extra
request, and a server of another area serves another build id (walls reload on a change)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

_TAG = b"<html"


class PageTemplateError(ValueError):
    """The built index.html has no <html> element to carry the area."""


def with_pack(page: bytes, pack: Mapping[str, Any]) -> bytes:
    """``page`` with ``data-pack="{json}"`` on its first ``<html`` tag."""
    at = page.find(_TAG)
    if at < 0:
        raise PageTemplateError("index.html has no <html> tag; rebuild the page (web/assets.py)")
    text = json.dumps(pack, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    attribute = f' data-pack="{html.escape(text, quote=True)}"'.encode()
    end = at + len(_TAG)
    return page[:end] + attribute + page[end:]
