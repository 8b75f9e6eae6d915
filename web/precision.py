"""Values at the precision the wall displays them (a pure module).

The wall shows a few digits of each value (web/frontend/src/format.js: 万/亿 or K/M/B,
one or two decimals, per unit and language). Sending 17 significant digits that the page
then rounds away costs bytes on every delta and makes almost every value "change" at every
step. So the push server sends the shortest value that both languages display exactly as
they display the full one, and treats a record whose displayed value did not change as
nothing a viewer could see.

``shown`` is format.js's ``formatValue`` written out in Python, down to how JavaScript
rounds: ``Intl.NumberFormat`` rounds the double's shortest decimal form half away from zero,
``Math.round`` half towards +infinity, and the scaling (``v / 1e8``, ``v * 100``) is a
double operation, as in Python. ``wire_value`` rounds to the coarsest step the displays
allow and keeps the result only if both languages show it exactly as they show the original
(a value near a unit boundary such as 9,999.6 keeps more digits); the tests check it against
format.js itself, run by node."""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal

Number = int | float

LANGS = ("zh", "en")
# web/metadata.py; money is in the pack's currency (any ISO 4217 code), others format as counts
UNITS = ("count", "CNY", "MAD", "t", "min", "MW", "ratio")
_EXACT = Context(prec=80)  # every double and every step below is exact at this precision
_ONE = Decimal(1)


def _fixed(x: float, digits: int) -> tuple[str, Decimal]:
    """Intl.NumberFormat with exactly ``digits`` fraction digits: the double's shortest
    decimal form (what ``String(x)`` and Python's ``repr`` print; 9.995 is 9.995 here, not
    the 9.99499... the double holds) rounded half away from zero (Decimal's ROUND_HALF_UP);
    the text has no grouping separators (they do not change what a value is)."""
    step = _ONE.scaleb(-digits)
    return str(Decimal(repr(float(x))).quantize(step, rounding=ROUND_HALF_UP, context=_EXACT)), step


def _math_round(v: float) -> str:
    # JavaScript's Math.round: the nearest integer to the double's exact value, half
    # towards +infinity.
    d = _EXACT.add(Decimal(v), Decimal("0.5"))
    return str(d.quantize(_ONE, rounding=ROUND_FLOOR, context=_EXACT))


def _scaled(x: float, scale: float, digits: int) -> tuple[str, Decimal]:
    text, step = _fixed(x / scale, digits)
    return text, step * Decimal(scale)


def _zh_scaled(v: float, unit: str) -> tuple[str, str, Decimal]:
    a = abs(v)
    if a >= 1e8:
        text, step = _scaled(v, 1e8, 2)
        return text, f"亿{unit}", step
    if a >= 1e4:
        text, step = _scaled(v, 1e4, 0 if a >= 1e6 else 1)
        return text, f"万{unit}", step
    text, step = _fixed(v, 0)
    return text, unit, step


def _en_scaled(v: float) -> tuple[str, str, Decimal]:
    a = abs(v)
    if a >= 1e9:
        text, step = _scaled(v, 1e9, 2)
        return text, "B", step
    if a >= 1e6:
        text, step = _scaled(v, 1e6, 0 if a >= 1e8 else 1)
        return text, "M", step
    if a >= 1e4:
        text, step = _scaled(v, 1e3, 0)
        return text, "K", step
    text, step = _fixed(v, 0)
    return text, "", step


def is_currency(unit: str) -> bool:
    """An ISO 4217 code (money in a pack's currency) rather than one of the other units."""
    return len(unit) == 3 and unit.isascii() and unit.isupper()


def shown(v: float, unit: str, lang: str) -> tuple[str, str, Decimal]:
    """What format.js's ``formatValue(v, unit, lang)`` displays for a finite ``v``: the
    number's text (without grouping separators), the unit's text, and the value of one step
    of the last digit shown."""
    zh = lang != "en"
    money = is_currency(unit)
    if money or unit == "t":
        if zh:
            return _zh_scaled(v, ("元" if unit == "CNY" else unit) if money else "吨")
        text, u, step = _en_scaled(v)
        if money:
            return (f"¥{text}" if unit == "CNY" else f"{unit} {text}"), u, step
        return text, f"{u} t" if u else "t", step
    if unit == "ratio":
        text, step = _fixed(v * 100, 1)
        return text, "%", step / 100
    if unit == "MW":
        text, step = _fixed(v, 0 if v >= 100 else 1)
        return text, "MW", step
    if unit == "min":
        text, step = _fixed(v, 0)
        return text, "分钟" if zh else "min", step
    if zh:  # counts
        if abs(v) >= 1e5:
            return _zh_scaled(v, "")
        return _math_round(v), "", _ONE
    if abs(v) >= 1e6:
        return _en_scaled(v)
    return _math_round(v), "", _ONE


def wire_value(v: Number | None, unit: str) -> Number | None:
    """The shortest value that every language's wall displays exactly as it displays ``v``
    (``v`` itself when nothing shorter does, and for None, NaN and infinities)."""
    if v is None or isinstance(v, bool) or not math.isfinite(v):
        return v
    want = [shown(v, unit, lang) for lang in LANGS]
    step = min(s[2] for s in want)
    exact = Decimal(v)
    for _ in range(20):
        steps = _EXACT.divide(exact, step).quantize(_ONE, rounding=ROUND_HALF_UP, context=_EXACT)
        r_dec = _EXACT.multiply(steps, step)
        r: Number = int(r_dec) if step >= 1 else float(r_dec)
        if all(shown(r, unit, lang)[:2] == w[:2] for lang, w in zip(LANGS, want, strict=True)):
            return r
        step = step / 10
    return v
