"""Which incident targets the simulation has: the codes ``--incident`` may name.

Read from the simulation's own tables, so a target that would change nothing (a typo, a
corridor no truck drives) is refused before the run starts.
"""

from __future__ import annotations

from producers.freight_mix import TripMix
from producers.sectors import output_shares
from pulseboard.packs import RegionPack


def known_targets(pack: RegionPack) -> dict[str, frozenset[str]]:
    mix = TripMix.of(pack)
    origins = {o for o, _ in mix.routes} & {o for o, _ in mix.spokes.items()}
    corridors = {f"{o}>{d}" for o, d in mix.routes if o in origins}
    corridors |= {f"{o}>{o}" for o in origins}  # local delivery runs
    countries = frozenset(c for p in mix.cargo_by_name.values() for c, _ in p.countries)
    pairs = frozenset(f"{region}|{sector}" for (region, sector), _ in output_shares(pack.sim))
    return {
        "corridor_closure": frozenset(corridors),
        "dc_outage": frozenset(dc.dc_id for dc in pack.sim.data_centres),
        "export_surge": countries,
        "export_slump": countries,
        "sector_slump": pairs,
        "festival_peak": pairs,
    }
