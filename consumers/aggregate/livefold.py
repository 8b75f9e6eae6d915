"""``bucket_minus``: the events of a complete bucket that a part of it does not hold yet.

The finalizer's live state has already folded in a partition's provisional deltas for a
second when that second's sealed (complete) bucket arrives; folding in only the difference
keeps every event counted once, whatever provisional messages were missed (e.g. those sent
before the finalizer restarted)."""

from __future__ import annotations

from consumers.buckets import Bucket


def _minus_counts(full: dict, part: dict) -> dict:
    out = {}
    for k, v in full.items():
        x = v - part.get(k, 0)
        if x:
            out[k] = x
    return out


def _minus_rows(full: dict, part: dict) -> dict:
    out = {}
    for k, row in full.items():
        prow = part.get(k)
        if prow is None:
            out[k] = tuple(row)
        else:
            diff = tuple(a - b for a, b in zip(row, prow, strict=True))
            if any(diff):
                out[k] = diff
    return out


def bucket_minus(full: Bucket, part: Bucket) -> Bucket:
    """The events of ``full`` that ``part`` (a subset of the same events) lacks: sums are
    subtracted, trucks and dc readings ``part`` already has are left out."""
    d = Bucket()
    d.ship = _minus_rows(full.ship, part.ship)
    d.corridor = _minus_counts(full.corridor, part.corridor)
    d.country = _minus_counts(full.country, part.country)
    d.deliv = _minus_rows(full.deliv, part.deliv)
    d.output = _minus_counts(full.output, part.output)
    for region, ids in full.trucks.items():
        have = part.trucks.get(region)
        extra = {t: None for t in ids if t not in have} if have else dict.fromkeys(ids)
        if extra:
            d.trucks[region] = extra
    for key, reading in full.dc.items():
        if part.dc.get(key) != reading:
            d.dc[key] = reading
    return d
