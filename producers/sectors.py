"""The sector stream: value added by region and sector (``output``) and data-centre load
reports (``dc_load``).

Output events are a Poisson stream following the daily curve; each carries a slice of the
province's value added, sized so the day adds up to ``gdp_cny_per_day`` whatever the event
rate. Shares follow Guizhou's economy: the digital sectors make up ~37% (the province's
reported digital-economy share), Guiyang dominates big data and software, Zunyi liquor,
Liupanshui and Bijie energy and mining, Qiandongnan tourism.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Final

from producers import geography as geo
from producers.emitter import Emitter
from producers.incidents import Schedule
from producers.rhythm import DailyCurve
from producers.sampling import quantile_table
from pulseboard import spec

TOPIC: Final = spec.TOPIC_SECTOR
GY, LPS, ZY, AS, BJ = geo.GUIYANG, geo.LIUPANSHUI, geo.ZUNYI, geo.ANSHUN, geo.BIJIE
TR, QXN, QDN, QN = geo.TONGREN, geo.QIANXINAN, geo.QIANDONGNAN, geo.QIANNAN

# Share of provincial value added per sector (sums to 1; digital = 0.37).
SECTOR_SHARE: Final = (
    ("big_data", 0.12), ("electronics", 0.10), ("software", 0.07), ("ecommerce", 0.08),
    ("manufacturing", 0.14), ("liquor", 0.10), ("tourism", 0.11), ("agriculture", 0.09),
    ("energy_mining", 0.11), ("construction", 0.08),
)  # fmt: skip

# How each sector's value splits over the prefectures (relative weights).
SECTOR_REGIONS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "big_data": ((GY, 55), (AS, 20), (QN, 8), (ZY, 6), (QDN, 5), (BJ, 2), (LPS, 2), (TR, 1),
                 (QXN, 1)),
    "electronics": ((GY, 50), (AS, 15), (ZY, 12), (QN, 6), (TR, 5), (QDN, 4), (BJ, 3),
                    (LPS, 3), (QXN, 2)),
    "software": ((GY, 70), (ZY, 10), (AS, 6), (QN, 4), (QDN, 3), (BJ, 2), (LPS, 2), (TR, 2),
                 (QXN, 1)),
    "ecommerce": ((GY, 40), (ZY, 15), (QDN, 8), (TR, 8), (QN, 7), (AS, 6), (BJ, 6), (LPS, 5),
                  (QXN, 5)),
    "manufacturing": ((GY, 30), (ZY, 22), (AS, 12), (LPS, 8), (QN, 8), (BJ, 7), (QXN, 5),
                      (QDN, 5), (TR, 3)),
    "liquor": ((ZY, 85), (GY, 5), (BJ, 4), (QN, 2), (QXN, 1), (AS, 1), (TR, 1), (QDN, 1)),
    "tourism": ((QDN, 25), (GY, 18), (AS, 14), (TR, 10), (ZY, 10), (QN, 9), (QXN, 6), (BJ, 5),
                (LPS, 3)),
    "agriculture": ((ZY, 18), (BJ, 16), (QDN, 12), (TR, 10), (QN, 10), (QXN, 10), (LPS, 8),
                    (AS, 8), (GY, 8)),
    "energy_mining": ((LPS, 35), (BJ, 30), (QXN, 15), (ZY, 6), (GY, 4), (AS, 4), (QN, 3),
                      (QDN, 2), (TR, 1)),
    "construction": ((GY, 30), (ZY, 15), (BJ, 10), (QN, 8), (QDN, 8), (AS, 8), (LPS, 7),
                     (TR, 7), (QXN, 7)),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class DataCentre:
    dc_id: str
    region: str
    capacity_mw: float  # IT capacity
    base_utilization: float  # at the evening peak


# Gui'an New Area (straddling Guiyang and Anshun) hosts the big clusters: the three carriers,
# iCloud, Tencent's tunnel data centre, Huawei Cloud; smaller sites elsewhere.
DATA_CENTRES: Final = (
    DataCentre("dc-guian-01", GY, 48.0, 0.74),
    DataCentre("dc-guian-02", GY, 36.0, 0.70),
    DataCentre("dc-guian-03", GY, 40.0, 0.72),
    DataCentre("dc-guian-04", GY, 30.0, 0.78),
    DataCentre("dc-guian-05", AS, 45.0, 0.68),
    DataCentre("dc-guian-06", AS, 60.0, 0.66),
    DataCentre("dc-guian-07", AS, 24.0, 0.62),
    DataCentre("dc-guian-08", GY, 20.0, 0.60),
    DataCentre("dc-guiyang-01", GY, 12.0, 0.58),
    DataCentre("dc-guiyang-02", GY, 8.0, 0.52),
    DataCentre("dc-anshun-01", AS, 10.0, 0.55),
    DataCentre("dc-qiannan-01", QN, 9.0, 0.50),
    DataCentre("dc-kaili-01", QDN, 8.0, 0.47),
    DataCentre("dc-zunyi-01", ZY, 6.0, 0.52),
    DataCentre("dc-bijie-01", BJ, 5.0, 0.42),
)


def output_shares() -> list[tuple[tuple[str, str], float]]:
    """((region, sector), share of provincial value added); shares sum to 1."""
    pairs: list[tuple[tuple[str, str], float]] = []
    for sector, share in SECTOR_SHARE:
        split = SECTOR_REGIONS[sector]
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


@functools.cache  # pure, and 65536 entries: build once per process
def output_choices() -> tuple[tuple[bytes, bytes], ...]:
    """Per slot of ``choice_table``: the record key ``region|sector`` and the event's fixed
    members, preformatted exactly as orjson would write them (see Emitter.emit_encoded)."""
    encoded = {
        (region, sector): (
            f"{region}|{sector}".encode(),
            b'"sector":"%b","region":"%b"' % (sector.encode(), region.encode()),
        )
        for (region, sector), _ in output_shares()
    }
    return tuple(encoded[pair] for pair in choice_table(output_shares()))


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
        incidents: Schedule | None = None,
    ) -> None:
        self._em = emitter
        self._incidents = incidents
        self._dc_factor = (
            incidents.dc_factor({dc.dc_id: dc.region for dc in DATA_CENTRES}) if incidents else None
        )
        self._rng = rng
        self._curve = curve
        self._dc_curve = dc_curve
        self._outputs_per_ms = outputs_per_s / 1000
        # Mean value per event: the day's value added over the day's events.
        self._cny_per_output = gdp_cny_per_day / (outputs_per_s * 86_400) if outputs_per_s else 0
        # Per (region, sector): the record key and the event's fixed members, preformatted
        # exactly as orjson would write them (see Emitter.emit_encoded).
        self._choices = output_choices()
        self._format = (
            b'{"v":1,"id":"%b%%d","type":"output","ts":%%d,%%b,"value_cny":%%r}'
            % emitter.id_prefix.encode()
        )
        self._noise = value_noise()
        self._next_output = float(start_ms)
        if outputs_per_s > 0:
            self._next_output += rng.expovariate(self._outputs_per_ms * curve.at(start_ms))
        self._dc_interval = dc_interval_ms
        self._dc_next = [start_ms + int(rng.random() * dc_interval_ms) for _ in DATA_CENTRES]
        self._dc_keys = tuple(dc.dc_id.encode() for dc in DATA_CENTRES)
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
        for i, dc in enumerate(DATA_CENTRES):
            t = self._dc_next[i]
            while t < c1:
                # Load follows the internet's day (trough before dawn, evening peak) with a
                # little noise from batch jobs.
                u = dc.base_utilization * (0.7 + 0.3 * shape) * (0.97 + 0.06 * rng.random())
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
