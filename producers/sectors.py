"""The sector stream: value added by region and sector (``output``) and data-centre load
reports (``dc_load``).

Output events are a Poisson stream following the daily curve; each carries a slice of the
area's value added, sized so the day adds up to ``gdp_cny_per_day`` whatever the event
rate. Shares and data centres are the region pack's (``[economy]`` of
pulseboard/packs/*.toml).
"""

from __future__ import annotations

import functools
import math
import random
from statistics import NormalDist
from typing import Final

from producers.emitter import Emitter
from producers.incidents import Schedule
from producers.rhythm import DailyCurve
from producers.sampling import quantile_table
from pulseboard import spec
from pulseboard.packs import Economy

TOPIC: Final = spec.TOPIC_SECTOR


def output_shares(economy: Economy) -> list[tuple[tuple[str, str], float]]:
    """((region, sector), share of the area's value added); shares sum to 1."""
    pairs: list[tuple[tuple[str, str], float]] = []
    for sector, share in economy.sector_shares:
        split = economy.sector_regions[sector]
        total = sum(w for _, w in split)
        for region, w in split:
            pairs.append(((region, sector), share * w / total))
    return pairs


# Output events pick (region, sector) from a table with one entry per 1/65536 of value.
CHOICE_BITS: Final = 16


def choice_table(pairs: list[tuple[tuple[str, str], float]]) -> tuple[tuple[str, str], ...]:
    """Largest-remainder rounding of the shares to 2**CHOICE_BITS slots, in input order, so
    picking a uniformly random slot reproduces the shares to within 1/65536 each."""
    size = 1 << CHOICE_BITS
    total = sum(w for _, w in pairs)
    exact = [w / total * size for _, w in pairs]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(pairs)), key=lambda i: (counts[i] - exact[i], i))
    for i in by_remainder[: size - sum(counts)]:
        counts[i] += 1
    table: list[tuple[str, str]] = []
    for (item, _), n in zip(pairs, counts, strict=True):
        table.extend([item] * n)
    return tuple(table)


@functools.cache  # pure, and 65536 entries: build once per process (and pack)
def output_choices(economy: Economy) -> tuple[tuple[bytes, bytes], ...]:
    """Per slot of ``choice_table``: the record key ``region|sector`` and the event's fixed
    members, preformatted exactly as orjson would write them (see Emitter.emit_encoded)."""
    encoded = {
        (region, sector): (
            f"{region}|{sector}".encode(),
            b'"sector":"%b","region":"%b"' % (sector.encode(), region.encode()),
        )
        for (region, sector), _ in output_shares(economy)
    }
    return tuple(encoded[pair] for pair in choice_table(output_shares(economy)))


@functools.cache
def value_noise() -> tuple[float, ...]:
    """Multipliers with mean exactly 1 (lognormal, sigma 0.5): event sizes vary, totals don't."""
    normal = NormalDist(0.0, 0.5)
    table = quantile_table(lambda u: math.exp(normal.inv_cdf(u)), 4096)
    mean = sum(table) / len(table)
    return tuple(v / mean for v in table)


class SectorStreams:
    def __init__(
        self,
        *,
        outputs_per_s: float,
        gdp_cny_per_day: float,
        dc_interval_ms: int,
        curve: DailyCurve,
        dc_curve: DailyCurve,
        emitter: Emitter,
        rng: random.Random,
        start_ms: int,
        economy: Economy,
        incidents: Schedule | None = None,
    ) -> None:
        self._em = emitter
        self._data_centres = economy.data_centres
        self._incidents = incidents
        self._dc_factor = (
            incidents.dc_factor({dc.dc_id: dc.region for dc in self._data_centres})
            if incidents
            else None
        )
        self._rng = rng
        self._curve = curve
        self._dc_curve = dc_curve
        self._outputs_per_ms = outputs_per_s / 1000
        # Mean value per event: the day's value added over the day's events.
        self._cny_per_output = gdp_cny_per_day / (outputs_per_s * 86_400) if outputs_per_s else 0
        # Per (region, sector): the record key and the event's fixed members, preformatted
        # exactly as orjson would write them (see Emitter.emit_encoded).
        self._choices = output_choices(economy)
        self._format = (
            b'{"v":1,"id":"%b%%d","type":"output","ts":%%d,%%b,"value_cny":%%r}'
            % emitter.id_prefix.encode()
        )
        self._noise = value_noise()
        self._next_output = float(start_ms)
        if outputs_per_s > 0:
            self._next_output += rng.expovariate(self._outputs_per_ms * curve.at(start_ms))
        self._dc_interval = dc_interval_ms
        self._dc_next = [start_ms + int(rng.random() * dc_interval_ms) for _ in self._data_centres]
        self._dc_keys = tuple(dc.dc_id.encode() for dc in self._data_centres)
        self._dc_due = min(self._dc_next)

    def step(self, c0: int, c1: int) -> None:
        """Emit every sector event with true time in [c0, c1)."""
        self._outputs(c0, c1)
        self._dc_loads(c0, c1)

    def _outputs(self, c0: int, c1: int) -> None:
        if self._outputs_per_ms <= 0 or self._next_output >= c1:
            return
        rng, em = self._rng, self._em
        getrandbits, expovariate = rng.getrandbits, rng.expovariate
        emit, ids, fmt = em.emit_encoded, em.ids, self._format
        rate = self._outputs_per_ms * self._curve.at(c0)
        noise, mean_value, choices = self._noise, self._cny_per_output, self._choices
        t_next = self._next_output
        while t_next < c1:
            t = int(t_next)
            key, members = choices[getrandbits(CHOICE_BITS)]
            cents = round(mean_value * noise[getrandbits(12)] * 100)
            if self._incidents is not None:  # what an incident makes each output worth
                cents = round(cents * self._incidents.output_factor(key.decode(), t))
            emit(t, TOPIC, key, "output", fmt % (next(ids), t, members, cents / 100))
            t_next += expovariate(rate)
        self._next_output = t_next

    def _dc_loads(self, c0: int, c1: int) -> None:
        if self._dc_due >= c1:  # most seconds nobody reports
            return
        rng, em = self._rng, self._em
        shape = self._dc_curve.at(c0)
        for i, dc in enumerate(self._data_centres):
            t = self._dc_next[i]
            while t < c1:
                # Load follows the internet's day (trough before dawn, evening peak) with a
                # little noise from batch jobs.
                u = dc.utilization * (0.7 + 0.3 * shape) * (0.97 + 0.06 * rng.random())
                if self._dc_factor is not None:
                    u *= self._dc_factor(dc.dc_id, t)
                milli = min(990, max(20, round(u * 1000)))
                em.emit(
                    t,
                    TOPIC,
                    self._dc_keys[i],
                    "dc_load",
                    {
                        "v": 1,
                        "id": em.next_id(),
                        "type": "dc_load",
                        "ts": t,
                        "dc_id": dc.dc_id,
                        "region": dc.region,
                        "it_load_mw": round(dc.capacity_mw * milli / 10) / 100,
                        "utilization": milli / 1000,
                    },
                )
                t += self._dc_interval - 200 + int(rng.random() * 401)
            self._dc_next[i] = t
        self._dc_due = min(self._dc_next)
