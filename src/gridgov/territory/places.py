"""Address → building and house matching for anything imported at an address (residents, units, houses,
and every later app that imports people or things where they live or work).

`Places` caches the buildings (by code and by address) and, on demand, their houses; `resolve` reads a
batch's location columns (`LOCATION`: building code or address, unit, room; an address may carry the unit
and the room, "…1栋2单元0301") and gives per row the building, its grid path, the house and the parsed
unit and room, failing the cells that name no building, a building outside the importer's area
(`visible`), or no such house.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from gridgov.core.tabular.sources import FileFault
from gridgov.core.tabular.spec import E_REQUIRED, Batch, Column
from gridgov.core.tabular.validators import gettext_noop
from gridgov.territory.models import Building, House

E_LOCATION_COLUMNS = gettext_noop("Give the building code or the address of each row")
E_NO_BUILDING = gettext_noop("No building with this code or address")
E_OUT_OF_SCOPE = gettext_noop("The building lies outside your area")
E_NO_HOUSE = gettext_noop("No house %(room)s (unit %(unit)s) in this building")

_UNIT_RE = re.compile(r"(单元|unit)$", re.I)
_ROOM_RE = re.compile(r"(室|房|号)$")
_ADDRESS_RE = re.compile(
    r"^(?P<building>.+?栋)\s*(?:(?P<unit>[0-9A-Za-z]+)单元)?\s*(?P<room>[0-9A-Za-z-]+)?[室房号]?$"
)

LOCATION = (
    Column("building_code", "楼栋编码", ("building_code", "楼栋代码"), max_len=24, example="44030900200100001",
           note="楼栋编码，与“地址”二选一"),
    Column("address", "地址", ("address", "楼栋地址", "住址"), max_len=200, text=True,
           example="民治街道民治社区民治一区1栋", note="楼栋地址；也可写成“…1栋2单元0301”"),
    Column("unit", "单元", ("unit",), max_len=10, text=True, example="", note="单元号，没有单元可空"),
)  # fmt: skip


def require_location(mapping: dict[str, int]) -> dict[str, int]:
    """A header must have the building code or the address column."""
    if "building_code" not in mapping and "address" not in mapping:
        raise FileFault(E_LOCATION_COLUMNS)
    return mapping


def unit_key(unit: str) -> str:
    """A unit as a key: 2单元 and 2 are the same unit."""
    return _UNIT_RE.sub("", unit).strip()


def room_key(room: str) -> str:
    """A room as a key: 0301室, 301 and 0301 are the same room."""
    return _ROOM_RE.sub("", room).strip().lstrip("0") or "0"


def house_in(building: Building, unit: str, room: str) -> House | None:
    """The house of a room (and unit) in one building; without a unit, a room number unique in the
    building is enough. None when there is no such house (or the room alone is ambiguous)."""
    rooms = [h for h in House.objects.filter(building=building) if room_key(h.room) == room_key(room)]
    exact = [h for h in rooms if unit_key(h.unit) == unit_key(unit)]
    if exact:
        return exact[0]
    if not unit and len(rooms) == 1:
        return rooms[0]
    return None


class Places:
    """Buildings (by code and by address) and their houses, cached for the job, with the scope test."""

    def __init__(self, visible: Callable[[str], bool] | None):
        self.visible = visible
        self.by_code: dict[str, tuple[int, str]] = {}
        self.by_address: dict[str, tuple[int, str]] = {}
        for bid, code, address, path in Building.objects.values_list("id", "code", "address", "grid__path"):
            self.by_code[code] = (bid, path)
            self.by_address.setdefault(address, (bid, path))
        self.houses: dict[tuple[int, str, str], tuple[int, int]] = {}  # → (house id, floor)
        self.loaded: set[int] = set()

    unit_key = staticmethod(unit_key)
    room_key = staticmethod(room_key)

    def load(self, building_ids) -> None:
        todo = [b for b in set(building_ids) if b not in self.loaded]
        for start in range(0, len(todo), 2000):
            chunk = todo[start : start + 2000]
            rows = House.objects.filter(building_id__in=chunk).values_list(
                "id", "building_id", "unit", "room", "floor"
            )
            for hid, bid, unit, room, floor in rows:
                self.houses[(bid, self.unit_key(unit), self.room_key(room))] = (hid, floor)
                # Without a unit, a room number that is unique in the building is enough.
                key = (bid, "*", self.room_key(room))
                self.houses[key] = (hid, floor) if key not in self.houses else (0, 0)
            self.loaded.update(chunk)

    def add_house(self, building_id: int, unit: str, room: str, house_id: int, floor: int) -> None:
        self.houses[(building_id, self.unit_key(unit), self.room_key(room))] = (house_id, floor)
        key = (building_id, "*", self.room_key(room))
        self.houses[key] = (house_id, floor) if key not in self.houses else (0, 0)

    def resolve(self, batch: Batch, *, need_room: bool) -> tuple[list, list, list, list]:
        """Per row: building id, grid path, house id (or None), unit and room (parsed)."""
        n = len(batch.numbers)
        codes = batch.text.get("building_code") or [""] * n
        addresses = batch.text.get("address") or [""] * n
        units = list(batch.text.get("unit") or [""] * n)
        rooms = list(batch.text.get("room") or [""] * n)
        bids: list[int | None] = [None] * n
        paths: list[str] = [""] * n
        for i in range(n):
            if batch.blank[i]:
                continue
            found = None
            key = "building_code"
            if codes[i]:
                found = self.by_code.get(codes[i])
            elif addresses[i]:
                key = "address"
                found = self.by_address.get(addresses[i])
                if found is None:
                    m = _ADDRESS_RE.match(addresses[i].replace(" ", ""))
                    if m:
                        found = self.by_address.get(m["building"])
                        if found is not None:
                            units[i] = units[i] or (m["unit"] or "")
                            rooms[i] = rooms[i] or (m["room"] or "")
            else:
                batch.fail(i, "building_code" if "building_code" in batch.text else "address", E_REQUIRED)
                continue
            if found is None:
                if batch.ok(i, key):
                    batch.fail(i, key, E_NO_BUILDING)
                continue
            if self.visible is not None and not self.visible(found[1]):
                batch.fail(i, key, E_OUT_OF_SCOPE)
                continue
            bids[i], paths[i] = found
        self.load(b for b in bids if b is not None)
        house_ids: list[int | None] = [None] * n
        for i in range(n):
            if bids[i] is None:
                continue
            if not rooms[i]:
                if need_room:
                    batch.fail(i, "room", E_REQUIRED)
                continue
            bid = cast(int, bids[i])
            hit = self.houses.get((bid, self.unit_key(units[i]), self.room_key(rooms[i])))
            if hit is None and not units[i]:
                hit = self.houses.get((bid, "*", self.room_key(rooms[i])))
                hit = hit if hit and hit[0] else None
            if hit is None:
                if need_room is not None:
                    batch.fail(i, "room", E_NO_HOUSE, room=rooms[i], unit=units[i] or "—")
                continue
            house_ids[i] = hit[0]
        return bids, paths, house_ids, list(zip(units, rooms, strict=True))
