"""Debian's Chromium as the browser of the wall's tests and page benchmark (never a
downloaded one): where it is and the flags it needs here, in one place."""

from __future__ import annotations

from typing import Final

CHROMIUM: Final = "/usr/bin/chromium"
# As root it needs --no-sandbox; the rest keeps a headless run on a machine without a GPU or
# internet from reaching out (component updates, sync) or stalling on first-run screens.
CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
