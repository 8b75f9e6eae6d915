"""Region packs (SPEC section 10): one data file per area, read into ``RegionPack``.

``load(name)`` is the only way in; a pack file that breaks a rule fails with the file, the
field and what is wrong, before any service starts."""

from pulseboard.packs.loader import DEFAULT_PACK, PACK_NAMES, PackError, load, load_file
from pulseboard.packs.model import (
    KNOWN_LANGUAGES,
    CargoKind,
    DataCentre,
    Economy,
    GatewayRule,
    Place,
    RegionPack,
    RoadNode,
    Sector,
)

__all__ = [
    "DEFAULT_PACK",
    "KNOWN_LANGUAGES",
    "PACK_NAMES",
    "CargoKind",
    "DataCentre",
    "Economy",
    "GatewayRule",
    "PackError",
    "Place",
    "RegionPack",
    "RoadNode",
    "Sector",
    "load",
    "load_file",
]
