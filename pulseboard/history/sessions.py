"""Session names (SPEC section 9): the live pipeline's ``live`` and one per replayed log."""

from __future__ import annotations

import re
from typing import Final

LIVE: Final = "live"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


class BadSessionName(ValueError):
    """A session name that SPEC section 9 does not allow; the message says why."""


def check_session_name(name: str) -> str:
    """``name`` if it is a valid session name, else ``BadSessionName`` saying what is wrong.
    The rule also keeps names safe anywhere they end up (no '/', '.', spaces or capitals)."""
    if _NAME.fullmatch(name):
        return name
    bad = sorted(
        {c for c in name if not (c.isascii() and (c.islower() or c.isdigit() or c in "_-"))}
    )
    if not name:
        why = "it is empty"
    elif len(name) > 63:
        why = f"it has {len(name)} characters (at most 63)"
    elif bad:
        why = f"it contains {''.join(bad)!r} (allowed: a-z, 0-9, '_' and '-')"
    else:
        why = "it must start with a lower-case letter or a digit"
    return _fail(name, why)


def _fail(name: str, why: str) -> str:
    raise BadSessionName(
        f"session name {name[:80]!r} is not allowed: {why}; names match [a-z0-9][a-z0-9_-]{{0,62}}"
    )
