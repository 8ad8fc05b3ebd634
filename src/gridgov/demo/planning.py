"""Pure planning of the demo district: areas with geometry and household targets, buildings and houses.

Nothing here touches the database. Every random choice comes from a generator keyed by the seed and the
code of the thing being planned, so the same seed always gives the same district. See docs/demo.md.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gridgov.demo import geometry as geo
from gridgov.demo.data import (
    COMMUNITY_NAMES,
    COMPOUND_PREFIXES,
    COMPOUND_SUFFIXES,
    DISTRICT_CODE,
    DISTRICT_NAME,
    SCALES,
    SUBDISTRICTS,
    Scale,
    chinese_number,
)

# House uses and building kinds, spelled as the territory models' choices.
OWNER_OCCUPIED, RENTED, COMMERCIAL, VACANT = "owner_occupied", "rented", "commercial", "vacant"
URBAN_VILLAGE, COMPOUND = "urban_village", "compound"


def seed_for(seed: int, *key: str) -> int:
    digest = hashlib.sha256(":".join([str(seed), *key]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rng_for(seed: int, *key: str) -> random.Random:
    return random.Random(seed_for(seed, *key))


def nprng_for(seed: int, *key: str) -> np.random.Generator:
    return np.random.default_rng(seed_for(seed, *key))


@dataclass(eq=False)
class AreaPlan:
    level: str
    code: str
    name: str
    geom: BaseGeometry
    parent: AreaPlan | None = None
    households: int = 0
    stem: str = ""  # a community's name without 社区
    children: list[AreaPlan] = field(default_factory=list)
    pk: int | None = None
    path: str = ""


@dataclass
class TerritoryPlan:
    scale: Scale
    district: AreaPlan
    subdistricts: list[AreaPlan]
    communities: list[AreaPlan]
    blocks: list[AreaPlan]
    grids: list[AreaPlan]

    def levels(self) -> list[list[AreaPlan]]:
        return [[self.district], self.subdistricts, self.communities, self.blocks, self.grids]


@dataclass(eq=False)
class BuildingPlan:
    grid: AreaPlan
    kind: str
    cluster: str
    floors: int
    houses: list[list]  # [unit, floor, room, use, households]
    lng: float = 0.0
    lat: float = 0.0
    code: str = ""
    name: str = ""
    address: str = ""

    @property
    def households(self) -> int:
        return sum(h[4] for h in self.houses)


def _grid_count(total: int, low: int, high: int) -> int:
    """Number of grids for a community of `total` households so that total / n lies in [low, high]."""
    n = round(total / ((low + high) / 2))
    return min(max(n, math.ceil(total / high), 1), max(1, total // low))


def _split_targets(total: int, n: int, rng: random.Random, low: int, high: int) -> list[int]:
    weights = [rng.uniform(0.85, 1.15) for _ in range(n)]
    scale = total / sum(weights)
    return [min(high, max(low, round(w * scale))) for w in weights]


def _allocate(n: int, areas: list[float]) -> list[int]:
    """Split n items over parts in proportion to their areas, at least one each (largest remainder)."""
    k = len(areas)
    spare = n - k
    total = sum(areas)
    shares = [spare * a / total for a in areas]
    counts = [1 + int(s) for s in shares]
    order = sorted(range(k), key=lambda i: (-(shares[i] - int(shares[i])), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def plan_territory(scale_name: str, seed: int) -> TerritoryPlan:
    """The area tree with geometry and each area's household count (grids get their targets)."""
    scale = SCALES[scale_name]
    low, high = scale.grid_households
    outline = geo.district_outline()
    sub_geoms = geo.partition(
        outline, len(SUBDISTRICTS), nprng_for(seed, DISTRICT_CODE), anchors=[a for *_, a in SUBDISTRICTS]
    )
    chosen = [
        (code, name, g)
        for (code, name, _), g in zip(SUBDISTRICTS, sub_geoms, strict=True)
        if code in scale.communities
    ]
    if len(chosen) == len(SUBDISTRICTS):
        district_geom = outline
    elif len(chosen) == 1:
        district_geom = chosen[0][2]
    else:
        district_geom = shapely.orient_polygons(shapely.union_all([g for *_, g in chosen]))
    district = AreaPlan("district", DISTRICT_CODE, DISTRICT_NAME, district_geom)
    subdistricts, communities, blocks, grids = [], [], [], []
    for sub_code, sub_name, sub_geom in chosen:
        sub = AreaPlan("subdistrict", sub_code, sub_name, sub_geom, district)
        district.children.append(sub)
        subdistricts.append(sub)
        n_comm = scale.communities[sub_code]
        comm_geoms = geo.partition(sub_geom, n_comm, nprng_for(seed, sub_code))
        for k, idx in enumerate(geo.reading_order(comm_geoms, sub_geom), 1):
            stem = COMMUNITY_NAMES[sub_code][k - 1]
            comm = AreaPlan("community", f"{sub_code}{k:03d}", f"{stem}社区", comm_geoms[idx], sub, stem=stem)
            sub.children.append(comm)
            communities.append(comm)
            c_blocks, c_grids = _plan_community(comm, scale, seed)
            blocks.extend(c_blocks)
            grids.extend(c_grids)
    for level in (grids, blocks, communities, subdistricts):
        for area in level:
            area.parent.households += area.households
    return TerritoryPlan(scale, district, subdistricts, communities, blocks, grids)


def _plan_community(comm: AreaPlan, scale: Scale, seed: int) -> tuple[list[AreaPlan], list[AreaPlan]]:
    low, high = scale.grid_households
    rng = rng_for(seed, comm.code)
    total = rng.randint(*scale.community_households)
    n_grids = _grid_count(total, low, high)
    n_blocks = min(n_grids, rng.randint(*scale.blocks))
    block_geoms = geo.partition(comm.geom, n_blocks, nprng_for(seed, comm.code, "blocks"))
    blocks = []
    for k, idx in enumerate(geo.reading_order(block_geoms, comm.geom), 1):
        block = AreaPlan("block", f"{comm.code}{k:02d}", f"{comm.name}第{k}街区", block_geoms[idx], comm)
        comm.children.append(block)
        blocks.append(block)
    per_block = _allocate(n_grids, [b.geom.area for b in blocks])
    pieces: list[tuple[AreaPlan, BaseGeometry]] = []
    for block, m in zip(blocks, per_block, strict=True):
        pieces.extend((block, g) for g in geo.partition(block.geom, m, nprng_for(seed, block.code)))
    targets = _split_targets(total, n_grids, rng, low, high)
    width = 2 if n_grids < 100 else 3
    grids = []
    for seq, idx in enumerate(geo.reading_order([g for _, g in pieces], comm.geom), 1):
        block, geom = pieces[idx]
        grid = AreaPlan("grid", f"{comm.code}{seq:03d}", f"{comm.name}第{seq:0{width}d}网格", geom, block)
        grid.households = targets[seq - 1]
        grids.append(grid)
    for block in blocks:
        block.children = [g for g in grids if g.parent is block]
    return blocks, grids


# --- buildings and houses ---------------------------------------------------------------------------


def _village_building(rng: random.Random) -> tuple[int, list[list]]:
    """An urban-village building (城中村): 4–9 floors, a few rooms a floor, shops on the ground floor."""
    floors = rng.randint(4, 9)
    shops = rng.randint(1, 3) if rng.random() < 0.55 else 0
    first = 2 if shops else 1
    rooms = max(2, min(rng.randint(2, 5), 36 // (floors - first + 1)))
    houses: list[list] = [["", 1, f"01{i:02d}", COMMERCIAL, 0] for i in range(1, shops + 1)]
    for floor in range(first, floors + 1):
        for i in range(1, rooms + 1):
            x = rng.random()
            use = VACANT if x < 0.08 else OWNER_OCCUPIED if x < 0.16 else RENTED
            households = 0 if use == VACANT else (2 if rng.random() < 0.03 else 1)
            houses.append(["", floor, f"{floor:02d}{i:02d}", use, households])
    return floors, houses


def _compound_building(rng: random.Random) -> tuple[int, list[list]]:
    """A high-rise in a residential compound (小区): 18–33 floors, 60–200 dwellings, mostly owner-occupied."""
    while True:
        floors, units, rooms = rng.randint(18, 33), rng.randint(1, 2), rng.randint(2, 4)
        if 60 <= (floors - 1) * units * rooms <= 200:
            break
    houses: list[list] = []
    for unit in range(1, units + 1):
        for floor in range(2, floors + 1):
            for i in range(1, rooms + 1):
                x = rng.random()
                use = VACANT if x < 0.07 else RENTED if x < 0.30 else OWNER_OCCUPIED
                households = 0 if use == VACANT else (2 if rng.random() < 0.03 else 1)
                houses.append([str(unit), floor, f"{floor:02d}{i:02d}", use, households])
    return floors, houses


def _trim(building: BuildingPlan, excess: int) -> None:
    """Bring the grid to its target: the last building's top dwellings stand empty (newly let or sold)."""
    for house in reversed(building.houses):
        if excess <= 0:
            return
        take = min(house[4], excess)
        house[4] -= take
        excess -= take
        if house[4] == 0 and house[3] != COMMERCIAL:
            house[3] = VACANT


class CompoundNames:
    """Unique compound (小区) names across the district; a taken name gets a phase: 二期, 三期 …"""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def new(self, rng: random.Random) -> str:
        base = rng.choice(COMPOUND_PREFIXES) + rng.choice(COMPOUND_SUFFIXES)
        name, phase = base, 1
        while name in self.used:
            phase += 1
            name = f"{base}{chinese_number(phase) if phase < 100 else phase}期"
        self.used.add(name)
        return name


def plan_buildings(
    comm: AreaPlan, grids: list[AreaPlan], seed: int, names: CompoundNames | None = None
) -> list[BuildingPlan]:
    """Buildings of one community, in code order: grid by grid, west→east / north→south in each grid."""
    names = names or CompoundNames()
    rng = rng_for(seed, comm.code, "buildings")
    village_share = rng.uniform(0.3, 0.7)
    villages = 0
    previous_compound: str | None = None
    numbers: dict[str, int] = {}
    result: list[BuildingPlan] = []
    for grid in grids:
        grng = rng_for(seed, grid.code)
        roll = grng.random()
        if roll < village_share:
            parts = [(URBAN_VILLAGE, grid.households)]
        elif roll < village_share + (1 - village_share) * 0.7:
            parts = [(COMPOUND, grid.households)]
        else:
            parts = [
                (COMPOUND, round(grid.households * grng.uniform(0.4, 0.7))),
                (URBAN_VILLAGE, grid.households),
            ]
        buildings: list[BuildingPlan] = []
        clusters: list[tuple[str, str, list[BuildingPlan]]] = []
        total = 0
        last_compound = None
        for kind, goal in parts:
            if total >= goal:
                continue
            if kind == COMPOUND:
                if previous_compound and grng.random() < 0.35:
                    cluster = previous_compound
                else:
                    cluster = names.new(grng)
                last_compound = cluster
            else:
                villages += 1
                cluster = f"{comm.stem}{chinese_number(villages) if villages < 100 else villages}区"
            members = []
            while total < goal:
                floors, houses = (_compound_building if kind == COMPOUND else _village_building)(grng)
                b = BuildingPlan(grid, kind, cluster, floors, houses)
                members.append(b)
                total += b.households
            buildings.extend(members)
            clusters.append((kind, cluster, members))
        _trim(buildings[-1], total - grid.households)
        previous_compound = last_compound
        _place(grid, clusters, nprng_for(seed, grid.code, "points"))
        for i in geo.points_reading_order([(b.lng, b.lat) for b in buildings], grid.geom):
            b = buildings[i]
            numbers[b.cluster] = numbers.get(b.cluster, 0) + 1
            b.code = f"{comm.code}{len(result) + 1:05d}"
            b.name = f"{b.cluster}{numbers[b.cluster]}栋"
            b.address = f"{comm.parent.name}{comm.name}{b.name}"
            result.append(b)
    return result


def _place(
    grid: AreaPlan, clusters: list[tuple[str, str, list[BuildingPlan]]], rng: np.random.Generator
) -> None:
    """Buildings of a cluster gather around a centre inside the grid (rejection sampling)."""
    size = math.sqrt(grid.geom.area)
    for kind, _, members in clusters:
        (centre,) = geo.random_points_in(grid.geom, 1, rng)
        sigma = size * (0.22 if kind == COMPOUND else 0.15)
        for b, (x, y) in zip(
            members, geo.points_near(grid.geom, centre, sigma, len(members), rng), strict=True
        ):
            b.lng, b.lat = x, y
