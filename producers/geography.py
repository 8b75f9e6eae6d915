"""Where trucks drive: Guizhou's prefecture centres, the trunk roads between them, the exits
to neighbouring provinces, and per-kilometre route tables for the simulation's hot path.

Road lengths are approximate real expressway distances (km) between prefecture centres and
along the main corridors out of the province; points along a road are interpolated linearly
between the nodes, which is close enough for a provincial map.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Final

from pulseboard import spec

# Short names used only to make the road list below readable.
GUIYANG: Final = "520100"
LIUPANSHUI: Final = "520200"
ZUNYI: Final = "520300"
ANSHUN: Final = "520400"
BIJIE: Final = "520500"
TONGREN: Final = "520600"
QIANXINAN: Final = "522300"
QIANDONGNAN: Final = "522600"
QIANNAN: Final = "522700"

# Out-of-province destinations (ISO 3166-2:CN), each delivered to one terminal city.
CHONGQING: Final = "CN-CQ"
GUANGDONG: Final = "CN-GD"
GUANGXI: Final = "CN-GX"
SICHUAN: Final = "CN-SC"
YUNNAN: Final = "CN-YN"
HUNAN: Final = "CN-HN"
EXTERNAL_DESTS: Final = (CHONGQING, GUANGDONG, GUANGXI, SICHUAN, YUNNAN, HUNAN)
# Where export cargo leaves China: Beibu Gulf (Qinzhou), Guangzhou/Shenzhen ports, and the
# China–Europe rail hub at Chongqing.
EXPORT_GATEWAYS: Final = (GUANGXI, GUANGDONG, CHONGQING)

# Road factor for straight-line distance, used for local (intra-prefecture) delivery spokes.
ROAD_FACTOR: Final = 1.3


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    lon: float
    lat: float
    kind: str  # "centre" (prefecture centre), "via" (bend), "border" (exit), "external"


def _centre_nodes() -> dict[str, Node]:
    return {r.code: Node(r.code, r.lon, r.lat, "centre") for r in spec.REGIONS}


_OTHER_NODES: Final = (
    # A bend inside the province, so the Guiyang–Bijie road runs through Qianxi, not Anshun.
    Node("via:qianxi", 106.03, 27.03, "via"),
    # Province exits, roughly where the corridor crosses the border.
    Node("border:songkan", 106.80, 28.55, "border"),  # G75 towards Chongqing
    Node("border:songtao", 109.00, 28.35, "border"),  # towards Xiushan / Chongqing
    Node("border:xuyong", 105.50, 27.95, "border"),  # Bijie towards Luzhou / Sichuan
    Node("border:shengjingguan", 104.20, 25.72, "border"),  # G60 towards Yunnan
    Node("border:nandan", 107.55, 25.35, "border"),  # G75 towards Guangxi
    Node("border:congjiang", 108.90, 25.75, "border"),  # G76 towards Guilin / Guangdong
    Node("border:yuping", 109.05, 27.30, "border"),  # G60 towards Hunan
    Node("border:mayang", 109.45, 27.75, "border"),  # Tongren towards Huaihua
    # Waypoints and terminals outside the province.
    Node("x:luzhou", 105.44, 28.87, "external"),
    Node("x:qujing", 103.80, 25.49, "external"),
    Node("x:hechi", 108.08, 24.69, "external"),
    Node("x:nanning", 108.37, 22.82, "external"),
    Node("x:guilin", 110.29, 25.27, "external"),
    Node("x:huaihua", 109.99, 27.55, "external"),
    Node(CHONGQING, 106.38, 29.50, "external"),  # Tuanjiecun rail hub
    Node(SICHUAN, 104.07, 30.67, "external"),  # Chengdu
    Node(YUNNAN, 102.83, 24.88, "external"),  # Kunming
    Node(GUANGXI, 108.62, 21.70, "external"),  # Qinzhou port, Beibu Gulf
    Node(GUANGDONG, 113.26, 23.13, "external"),  # Guangzhou
    Node(HUNAN, 112.94, 28.23, "external"),  # Changsha
)

# (a, b, road km): approximate expressway distances.
ROADS: Final[tuple[tuple[str, str, float], ...]] = (
    (GUIYANG, ZUNYI, 150),  # G75
    (GUIYANG, ANSHUN, 100),  # G60
    (ANSHUN, LIUPANSHUI, 125),
    (GUIYANG, "via:qianxi", 85),  # Guibi expressway
    ("via:qianxi", BIJIE, 95),
    (BIJIE, ANSHUN, 200),  # via Zhijin
    (GUIYANG, TONGREN, 320),  # G56 via Weng'an, Shiqian
    (BIJIE, LIUPANSHUI, 160),
    (ANSHUN, QIANXINAN, 215),
    (LIUPANSHUI, QIANXINAN, 185),
    (GUIYANG, QIANNAN, 125),
    (QIANNAN, QIANDONGNAN, 100),
    (GUIYANG, QIANDONGNAN, 185),  # G60
    (QIANDONGNAN, TONGREN, 240),
    (ZUNYI, TONGREN, 275),
    (ZUNYI, BIJIE, 215),
    (ZUNYI, "border:songkan", 105),
    ("border:songkan", CHONGQING, 160),
    (TONGREN, "border:songtao", 80),
    ("border:songtao", CHONGQING, 330),
    (BIJIE, "border:xuyong", 105),
    ("border:xuyong", "x:luzhou", 115),
    ("x:luzhou", SICHUAN, 265),
    ("x:luzhou", CHONGQING, 170),
    (CHONGQING, SICHUAN, 310),
    (LIUPANSHUI, "border:shengjingguan", 135),
    (ANSHUN, "border:shengjingguan", 190),
    (QIANXINAN, "border:shengjingguan", 115),
    ("border:shengjingguan", "x:qujing", 85),
    ("x:qujing", YUNNAN, 135),
    (QIANNAN, "border:nandan", 120),
    ("border:nandan", "x:hechi", 110),
    ("x:hechi", "x:nanning", 230),
    ("x:nanning", GUANGXI, 120),
    (QIANNAN, "border:congjiang", 215),
    (QIANDONGNAN, "border:congjiang", 200),
    ("border:congjiang", "x:guilin", 170),
    ("x:guilin", GUANGDONG, 400),
    (QIANDONGNAN, "border:yuping", 150),
    ("border:yuping", "x:huaihua", 70),
    (TONGREN, "border:mayang", 35),
    ("border:mayang", "x:huaihua", 100),
    ("x:huaihua", HUNAN, 400),
)


# cos(latitude) at the province's middle: an equirectangular projection is accurate to a
# fraction of a percent over Guizhou, and route tables call this tens of thousands of times.
_LON_SCALE: Final = math.cos(math.radians(26.8))


def nearest_region(lon: float, lat: float) -> str:
    """The prefecture whose centre is closest: a cheap stand-in for real boundaries."""
    best, best_d = spec.REGIONS[0].code, math.inf
    for r in spec.REGIONS:
        dx = (lon - r.lon) * _LON_SCALE
        dy = lat - r.lat
        d = dx * dx + dy * dy
        if d < best_d:
            best, best_d = r.code, d
    return best


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

    @staticmethod
    def guizhou() -> RoadNetwork:
        nodes = _centre_nodes()
        for n in _OTHER_NODES:
            nodes[n.name] = n
        adj: dict[str, list[tuple[str, float]]] = {name: [] for name in nodes}
        for a, b, km in ROADS:
            adj[a].append((b, float(km)))
            adj[b].append((a, float(km)))
        return RoadNetwork(nodes, {k: tuple(v) for k, v in adj.items()})

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
                last_region = nearest_region(lon, lat)
            points.append((round(lat * 1e5), round(lon * 1e5), last_region))
        return points


def local_spoke(region: str, bearing_deg: float, road_km: float) -> Route:
    """A delivery run inside one prefecture: straight out from its centre along a bearing.

    The region stays the prefecture itself: a local delivery never changes its region.
    """
    r = spec.REGION_BY_CODE[region]
    straight = road_km / ROAD_FACTOR
    dlat = straight / 111.0 * math.cos(math.radians(bearing_deg))
    dlon = straight / (111.0 * math.cos(math.radians(r.lat))) * math.sin(math.radians(bearing_deg))
    points: list[RoutePoint] = []
    for x in range(int(road_km) + 2):
        f = min(1.0, x / road_km)
        points.append((round((r.lat + dlat * f) * 1e5), round((r.lon + dlon * f) * 1e5), region))
    wiggled = _wiggle(points, f"{region}@{bearing_deg}/{road_km}")
    return Route(region, region, road_km, wiggled, (region,))
