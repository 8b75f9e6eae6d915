"""Which incident targets the simulation has: the codes ``--incident`` may name.

Read from the simulation's own tables, so a target that would change nothing (a typo, a
corridor no truck drives) is refused before the run starts.
"""

from __future__ import annotations

from producers.freight_mix import CARGO_PROFILES, TripMix
from producers.sectors import DATA_CENTRES, output_shares


def known_targets(mix: TripMix) -> dict[str, frozenset[str]]:
    origins = {o for o, _ in mix.routes} & {o for o, _ in mix.spokes.items()}
    corridors = {f"{o}>{d}" for o, d in mix.routes if o in origins}
    corridors |= {f"{o}>{o}" for o in origins}  # local delivery runs
    countries = frozenset(c for p in CARGO_PROFILES for c, _ in p.countries)
    pairs = frozenset(f"{region}|{sector}" for (region, sector), _ in output_shares())
    return {
        "corridor_closure": frozenset(corridors),
        "dc_outage": frozenset(dc.dc_id for dc in DATA_CENTRES),
        "export_surge": countries,
        "export_slump": countries,
        "sector_slump": pairs,
        "festival_peak": pairs,
    }
