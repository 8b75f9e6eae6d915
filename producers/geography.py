"""Where trucks drive: the region centres of a pack, the trunk roads between them, the exits
out of the area, and per-kilometre route tables for the simulation's hot path.

The roads are the pack's (``[economy]`` of pulseboard/packs/*.toml): approximate real road
distances (km) between region centres and along the main corridors out of the area; points
along a road are interpolated linearly between the nodes, which is close enough for a map
of the area.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Final

from pulseboard.packs import Place, RegionPack

# Road factor for straight-line distance, used for local (intra-prefecture) delivery spokes.
ROAD_FACTOR: Final = 1.3


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    lon: float
    lat: float
    kind: str  # "centre" (prefecture centre), "via" (bend), "border" (exit), "external"


# One per-kilometre sample of a route: (lat * 1e5, lon * 1e5, region code). Integer
# coordinates divided by 1e5 give floats whose shortest repr has at most five decimals.
RoutePoint = tuple[int, int, str]

# Roads wind; a straight line between towns does not. Each sample is nudged by up to this
# much (1e-5 degrees, ~300 m), the same way every time, so the map shows a plausible road.
WIGGLE_E5: Final = 280


def _wiggle(points: list[RoutePoint], seed: str) -> tuple[RoutePoint, ...]:
    rng = random.Random(seed)
    out = [points[0]]
    for la, lo, region in points[1:-1]:
        out.append(
            (
                la + rng.randint(-WIGGLE_E5, WIGGLE_E5),
                lo + rng.randint(-WIGGLE_E5, WIGGLE_E5),
                region,
            )
        )
    out.append(points[-1])
    return tuple(out)


def position_fragment(point: RoutePoint) -> bytes:
    """The JSON members of a position event that depend only on where the truck is.

    Formatted exactly as orjson formats them (floats as their shortest repr), so a record
    assembled from fragments is byte-identical to ``orjson.dumps`` of the same event.
    """
    la, lo, region = point
    return b'"region":"%s","lat":%r,"lon":%r' % (region.encode(), la / 1e5, lo / 1e5)


@dataclass(frozen=True, slots=True)
class Route:
    """A drivable leg. ``points[int(km)]`` is where a truck is after ``km`` kilometres, and
    ``fragments[int(km)]`` the same point preformatted for the position event."""

    origin: str
    dest: str
    km: float
    points: tuple[RoutePoint, ...]
    via: tuple[str, ...]
    fragments: tuple[bytes, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.fragments:
            object.__setattr__(self, "fragments", tuple(map(position_fragment, self.points)))

    def reversed(self) -> Route:
        # Going back the same way: outside the province a truck still reports the prefecture
        # it will re-enter through, which is the one it left from.
        return Route(
            self.dest,
            self.origin,
            self.km,
            self.points[::-1],
            self.via[::-1],
            self.fragments[::-1],
        )


@dataclass(frozen=True, slots=True)
class RoadNetwork:
    nodes: dict[str, Node]
    adjacency: dict[str, tuple[tuple[str, float], ...]]

    centres: tuple[Place, ...]  # the regions, for nearest_region
    # cos(latitude) at the area's middle: an equirectangular projection is accurate to a
    # fraction of a percent over a province, and route tables use it tens of thousands of times.
    lon_scale: float

    @staticmethod
    def of(pack: RegionPack) -> RoadNetwork:
        economy = pack.sim
        nodes = {r.code: Node(r.code, r.lon, r.lat, "centre") for r in pack.regions}
        for n in economy.nodes:
            nodes[n.name] = Node(n.name, n.lon, n.lat, n.kind)
        adj: dict[str, list[tuple[str, float]]] = {name: [] for name in nodes}
        for a, b, km in economy.roads:
            adj[a].append((b, float(km)))
            adj[b].append((a, float(km)))
        return RoadNetwork(
            nodes,
            {k: tuple(v) for k, v in adj.items()},
            pack.regions,
            math.cos(math.radians(economy.map_latitude)),
        )

    def nearest_region(self, lon: float, lat: float) -> str:
        """The region whose centre is closest: a cheap stand-in for real boundaries."""
        best, best_d = self.centres[0].code, math.inf
        scale = self.lon_scale
        for r in self.centres:
            dx = (lon - r.lon) * scale
            dy = lat - r.lat
            d = dx * dx + dy * dy
            if d < best_d:
                best, best_d = r.code, d
        return best

    def shortest_path(self, src: str, dst: str) -> tuple[float, tuple[str, ...]]:
        """Dijkstra; ties broken by node name so the result never depends on hash order."""
        dist: dict[str, float] = {src: 0.0}
        prev: dict[str, str] = {}
        heap: list[tuple[float, str]] = [(0.0, src)]
        done: set[str] = set()
        while heap:
            d, u = heapq.heappop(heap)
            if u in done:
                continue
            if u == dst:
                break
            done.add(u)
            for v, km in self.adjacency[u]:
                nd = d + km
                if nd < dist.get(v, math.inf) - 1e-9:
                    dist[v] = nd
                    prev[v] = u
                    heapq.heappush(heap, (nd, v))
        if dst not in dist:
            raise ValueError(f"no road from {src} to {dst}")
        path = [dst]
        while path[-1] != src:
            path.append(prev[path[-1]])
        return dist[dst], tuple(reversed(path))

    def route(self, src: str, dst: str) -> Route:
        km, path = self.shortest_path(src, dst)
        return Route(src, dst, km, _wiggle(self._sample(path), f"{src}>{dst}"), path)

    def _sample(self, path: tuple[str, ...]) -> list[RoutePoint]:
        legs: list[tuple[Node, Node, float, bool]] = []
        for a, b in itertools.pairwise(path):
            km = dict(self.adjacency[a])[b]
            na, nb = self.nodes[a], self.nodes[b]
            inside = na.kind != "external" and nb.kind != "external"
            legs.append((na, nb, km, inside))
        total = sum(leg[2] for leg in legs)
        points: list[RoutePoint] = []
        last_region = path[0]
        leg_i, leg_start = 0, 0.0
        # Two spare samples so int(km) is always a valid index, even with float rounding.
        for x in range(int(total) + 2):
            xf = min(float(x), total)
            while leg_i < len(legs) - 1 and xf > leg_start + legs[leg_i][2]:
                leg_start += legs[leg_i][2]
                leg_i += 1
            na, nb, km, inside = legs[leg_i]
            f = min(1.0, (xf - leg_start) / km)
            lon = na.lon + (nb.lon - na.lon) * f
            lat = na.lat + (nb.lat - na.lat) * f
            if inside:
                last_region = self.nearest_region(lon, lat)
            points.append((round(lat * 1e5), round(lon * 1e5), last_region))
        return points


def local_spoke(r: Place, bearing_deg: float, road_km: float) -> Route:
    """A delivery run inside one region: straight out from its centre along a bearing.

    The region stays the region itself: a local delivery never changes its region.
    """
    region = r.code
    straight = road_km / ROAD_FACTOR
    dlat = straight / 111.0 * math.cos(math.radians(bearing_deg))
    dlon = straight / (111.0 * math.cos(math.radians(r.lat))) * math.sin(math.radians(bearing_deg))
    points: list[RoutePoint] = []
    for x in range(int(road_km) + 2):
        f = min(1.0, x / road_km)
        points.append((round((r.lat + dlat * f) * 1e5), round((r.lon + dlon * f) * 1e5), region))
    wiggled = _wiggle(points, f"{region}@{bearing_deg}/{road_km}")
    return Route(region, region, road_km, wiggled, (region,))
