"""The area a page shows, written into its index.html (a pure module).

The page must know its area before the first snapshot arrives: which language to speak when
the URL names none (the pack's first), which way to write, the clock's time zone and the map
to register. The server adds them to the ``<html>`` element as one ``data-pack`` attribute
(JSON, HTML-escaped), so the page needs no inline script (the CSP forbids it) and no extra
request, and a server of another area serves another build id (walls reload on a change)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

_HTML_TAG = re.compile(rb"<html(?=[\s>])", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*<!doctype[^>]*>", re.IGNORECASE)


def with_pack(page: bytes, pack: Mapping[str, Any]) -> bytes:
    """``page`` with ``data-pack="{json}"`` on its ``<html>`` tag (one is added after the
    doctype if the page leaves it out, as HTML allows)."""
    text = json.dumps(pack, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    attribute = f' data-pack="{html.escape(text, quote=True)}"'.encode()
    tag = _HTML_TAG.search(page)
    if tag is not None:
        return page[: tag.end()] + attribute + page[tag.end() :]
    doctype = _DOCTYPE.match(page)
    at = doctype.end() if doctype else 0
    return page[:at] + b"<html" + attribute + b">" + page[at:]
