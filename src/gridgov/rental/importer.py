"""The rental imports on the tabular kernel (`gridgov.core.tabular`): the rental list (出租屋清单, one row per
rental house) and the existing gradings (既有分级, one row per house), with addresses matched by
`gridgov.territory.places` and landlords found in the registry by the keyed hash of their ID number
(a person) or by their credit code (a unit), both within the importer's area.

Validation is batched like the registry's: each column is cleaned as a list, the houses, rental houses,
landlords and earlier inspections of a batch are read with one query each. The writes are services
(`services.register_imported_houses`, `services.record_imported_gradings`); after each written batch the
counts of the grids it touched are refreshed (`counts.refresh`). Error messages are msgids with
parameters, translated when shown. The columns of the rental list are the columns of its export
(export.py), so an exported list can be edited and imported elsewhere.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.utils.translation import get_language

from gridgov.core.tabular.sources import FileFault
from gridgov.core.tabular.spec import (
    E_NUMBER,
    E_REQUIRED,
    Batch,
    Column,
    ImportSpec,
    check_text,
    choice,
    dates,
    to_int,
)
from gridgov.core.tabular.validators import check_credit_code, check_id_numbers, gettext_noop, normalise_id
from gridgov.registry import vault
from gridgov.registry.models import Resident, Unit
from gridgov.rental import counts, services
from gridgov.rental.models import Grade, ImportKind, Inspection, RentalHouse, TenancyCategory
from gridgov.territory.places import E_OUT_OF_SCOPE, LOCATION, Places, require_location

__all__ = ["SPECS", "GradingSpec", "RentalListSpec", "parse_rooms"]

# --- messages ----------------------------------------------------------------------------------------
E_ALREADY_RENTAL = gettext_noop("This house is already a rental house")
E_BOTH_LANDLORDS = gettext_noop("Give the landlord as a person or as a unit, not both")
E_MASKED_ID = gettext_noop("The ID number is masked; enter the full number")
E_NO_PERSON = gettext_noop("No resident with this ID number in your area")
E_NO_UNIT = gettext_noop("No unit with this credit code in your area")
E_ROOMS = gettext_noop("Give the rooms as numbers separated by 、 or , (each once), or as a count up to 200")
E_NOT_RENTAL = gettext_noop("This house is not a rental house")
E_NO_CODE = gettext_noop("No rental house with this code")
E_BEFORE_LAST = gettext_noop("The house was already inspected on a later day (%(day)s)")
E_SAME_DAY = gettext_noop("The house already has a grading on this day")
E_HOUSE_OR_CODE = gettext_noop("Give the house code, or the building code (or address) and the room")

MAX_ROOMS = 200
ROOM_SPLIT = re.compile(r"[、,，;；\s]+")

# --- columns (Chinese headings: the template is for the field; English headings accepted too) ---------
ROOM = Column(
    "room", "房号", ("room", "门牌号", "Room"), required=True, max_len=10, text=True, example="0301"
)
LIST_COLUMNS = (
    *LOCATION,
    ROOM,
    Column("category", "租住类别", ("category", "Tenancy category", "类别"), required=True, max_len=24,
           example="整租", note="整租/合租/群租/家庭旅馆/宿舍（名称或代码）"),
    Column("landlord_id_number", "房东身份证号", ("landlord_id_number", "Landlord ID number", "业主身份证号"),
           max_len=32, example="", note="房东为个人时填写，须为本辖区已登记的居民；与信用代码二选一"),
    Column("landlord_credit_code", "房东统一社会信用代码",
           ("landlord_credit_code", "Landlord credit code", "业主统一社会信用代码"), max_len=32, example="",
           note="房东为单位时填写，须为本辖区已登记的单位"),
    Column("filing_number", "租赁备案号", ("filing_number", "Filing number", "备案号"), max_len=40, text=True,
           example="BA2026-0001"),
    Column("pledge_date", "责任书签订日期", ("pledge_date", "Pledge date"), max_len=20, example="2026-01-05",
           note="可空；填写即视为已签订治安消防责任书"),
    Column("capacity_limit", "限住人数", ("capacity_limit", "Capacity limit"), max_len=5, example="4",
           note="1–1000，可空"),
    Column("rooms", "出租房间", ("rooms", "Rooms", "房间"), max_len=1000, text=True, example="A、B",
           note="房间号用“、”或“,”分隔；只填一个数字表示房间数"),
)  # fmt: skip
LIST_REQUIRED = ("room", "category")

GRADING_COLUMNS = (
    Column("house_code", "一屋一码", ("house_code", "House code", "房屋编码"), max_len=32, example="",
           note="出租屋的一屋一码；或填楼栋编码（或地址）与房号"),
    *LOCATION,
    Column("room", "房号", ("room", "门牌号", "Room"), max_len=10, text=True, example="0301"),
    Column("grade", "分级", ("grade", "Grade", "等级"), required=True, max_len=12, example="宽管",
           note="宽管/关注/严管/禁止", choices=("宽管", "关注", "严管", "禁止")),
    Column("graded_on", "分级日期", ("graded_on", "Grading day", "Graded on", "检查日期"), required=True,
           max_len=20, example="2026-11-20", note="不得早于该屋最近一次检查"),
    Column("note", "备注", ("note", "Note"), max_len=500, text=True, example=""),
)  # fmt: skip
GRADING_REQUIRED = ("grade", "graded_on")

GRADES = {
    "宽管": Grade.RELAXED, "关注": Grade.WATCH, "严管": Grade.STRICT, "禁止": Grade.PROHIBITED,
    "绿": Grade.RELAXED, "黄": Grade.WATCH, "橙": Grade.STRICT, "红": Grade.PROHIBITED,
    **{g.value: g.value for g in Grade},
}  # fmt: skip
GRADE_ZH = {Grade.RELAXED: "宽管", Grade.WATCH: "关注", Grade.STRICT: "严管", Grade.PROHIBITED: "禁止"}

# The export's own columns (export.py) and the error workbook's (core.tabular.workbook): skipped on import,
# so an exported list or a corrected error workbook is imported as it is.
EXPORT_ONLY = ("分级", "Grade", "最近检查日期", "Last inspection", "下次检查日期", "Next due", "一屋一码",
               "House code")  # fmt: skip
SKIPPED = frozenset({"Row", "Reasons", "行号", "错误原因"})

# English names of the columns, for the error list and the export (the template's headings are Chinese).
COLUMN_NAMES_EN = {
    "building_code": "Building code", "address": "Address", "unit": "Unit", "room": "Room",
    "category": "Tenancy category", "landlord_id_number": "Landlord ID number",
    "landlord_credit_code": "Landlord credit code", "filing_number": "Filing number",
    "pledge_date": "Pledge date", "capacity_limit": "Capacity limit", "rooms": "Rooms",
    "house_code": "House code", "grade": "Grade", "graded_on": "Grading day", "note": "Note",
}  # fmt: skip


def parse_rooms(text: str) -> list[str] | None:
    """The rooms of a cell: numbers separated by 、 or , (or spaces), or a single whole number as a
    count (1, 2, … n). None when the cell does not fit (a room twice, a room too long, too many)."""
    if not text:
        return []
    parts = [p for p in ROOM_SPLIT.split(text.strip()) if p]
    if len(parts) == 1 and parts[0].isdigit() and len(parts[0]) <= 3 and not parts[0].startswith("0"):
        n = int(parts[0])
        return [str(i) for i in range(1, n + 1)] if n <= MAX_ROOMS else None
    if len(parts) > MAX_ROOMS or len(set(parts)) != len(parts) or any(len(p) > 10 for p in parts):
        return None
    return parts


class Spec(ImportSpec):
    """A rental import: rows at an address in the importer's area (the runner's context is the job's
    `Places`)."""

    kind: str
    skipped: frozenset[str] = SKIPPED

    def __init__(self, *, places: Places | None = None, **kwargs):
        super().__init__(**kwargs)
        self.places: Places = places if places is not None else self.context

    @classmethod
    def map_header(cls, header: list[str]) -> dict[str, int]:
        header = ["" if (name or "").strip().rstrip("*") in cls.skipped else name for name in header]
        return super().map_header(header)

    @classmethod
    def column_label(cls, key: str) -> str:
        """A column as people see it: the template's heading (Chinese); in English with the heading in
        brackets."""
        column = next((c for c in cls.columns if c.key == key), None)
        if column is None:
            return key
        if (get_language() or "zh-hans").startswith("zh"):
            return column.header
        english = COLUMN_NAMES_EN.get(key)
        return f"{english} ({column.header})" if english else column.header

    def _visible(self, path: str) -> bool:
        return self.places.visible is None or self.places.visible(path)


# --- the rental list ---------------------------------------------------------------------------------
@dataclass
class HouseRecord:
    row: int
    house_id: int
    category_id: int
    landlord_resident_id: int | None
    landlord_unit_id: int | None
    filing_number: str
    pledge_date: dt.date | None
    capacity_limit: int | None
    rooms: list[str]


def categories() -> tuple[dict[str, int], dict[str, str], str]:
    """The active tenancy categories: name or code → id, code → name, and the names for a message."""
    ids: dict[str, int] = {}
    names: dict[str, str] = {}
    for pk, code, name in TenancyCategory.objects.filter(is_active=True).values_list("pk", "code", "name"):
        ids[code] = ids[code.lower()] = ids[name] = pk
        names[code] = name
    return ids, names, "、".join(names.values())


class RentalListSpec(Spec):
    kind = ImportKind.HOUSES
    columns = LIST_COLUMNS
    required = LIST_REQUIRED
    skipped = SKIPPED | frozenset(EXPORT_ONLY)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.category_ids, _names, self.category_choices = categories()
        self.sealer = vault.BatchSealer()

    @classmethod
    def map_header(cls, header: list[str]) -> dict[str, int]:
        return require_location(super().map_header(header))

    def remember(self, batch: Batch) -> None:
        _bids, _paths, house_ids, _ = self.places.resolve(batch, need_room=True)
        for i, hid in enumerate(house_ids):
            if hid is not None:
                self.seen.setdefault(str(hid), batch.numbers[i])

    def _landlords(self, batch: Batch) -> tuple[list[int | None], list[int | None]]:
        """Per row: the landlord as a resident id or a unit id, both looked up within the area."""
        n = len(batch.numbers)
        ids = [normalise_id(v) for v in batch.raw.get("landlord_id_number") or [""] * n]
        codes = [c.upper() for c in batch.text.get("landlord_credit_code") or [""] * n]
        people: list[int | None] = [None] * n
        units: list[int | None] = [None] * n
        for i, fault in enumerate(check_id_numbers(ids, today=self.today)):
            if batch.blank[i] or not ids[i]:
                continue
            if codes[i]:
                batch.fail(i, "landlord_credit_code", E_BOTH_LANDLORDS)
            elif "*" in ids[i]:
                batch.fail(i, "landlord_id_number", E_MASKED_ID)
            elif fault:
                batch.fail(i, "landlord_id_number", fault)
        for i, code in enumerate(codes):
            if code and not batch.blank[i] and batch.ok(i, "landlord_credit_code"):
                fault = check_credit_code(code)
                if fault:
                    batch.fail(i, "landlord_credit_code", fault)
        wanted = [i for i in range(n) if ids[i] and batch.ok(i, "landlord_id_number") and not batch.blank[i]]
        hashes = dict(zip(wanted, self.sealer.hashes([ids[i] for i in wanted]), strict=True))
        found: dict[str, tuple[int, str]] = {}
        for h, pk, path in Resident.objects.filter(
            id_hash__in=set(hashes.values()), moved_out__isnull=True
        ).values_list("id_hash", "pk", "building__grid__path"):
            if self._visible(path):
                found[h] = (pk, path)
        for i, h in hashes.items():
            hit = found.get(h)
            if hit is None:
                batch.fail(i, "landlord_id_number", E_NO_PERSON)
            else:
                people[i] = hit[0]
        if hashes:
            self._log_lookup(sorted({pk for pk, _path in found.values()}), len(hashes))
        wanted = [
            i for i in range(n) if codes[i] and batch.ok(i, "landlord_credit_code") and not batch.blank[i]
        ]
        known: dict[str | None, int] = {}
        for pk, credit, path in Unit.objects.filter(credit_code__in={codes[i] for i in wanted}).values_list(
            "pk", "credit_code", "building__grid__path"
        ):
            if self._visible(path):
                known[credit] = pk
        for i in wanted:
            if codes[i] in known:
                units[i] = known[codes[i]]
            else:
                batch.fail(i, "landlord_credit_code", E_NO_UNIT)
        return people, units

    def _log_lookup(self, found: list[int], count: int) -> None:
        """Landlords looked up by ID number: on the personal-information access log, like every search by
        an ID number."""
        from gridgov.accounts.models import User
        from gridgov.registry.models import PiiAction
        from gridgov.registry.pii import log_access

        user = User.objects.filter(pk=self.user_id).first() if self.user_id else None
        log_access(
            user, PiiAction.SEARCH, object_type="resident", ids=found, count=count, fields=["id_number"],
            detail={"via": "rental import", "job": self.job_id, "found": len(found)},
        )  # fmt: skip

    def validate(self, batch: Batch) -> list[HouseRecord]:
        n = len(batch.numbers)
        check_text(batch, self.columns)
        category_ids = choice(batch, "category", {k: str(v) for k, v in self.category_ids.items()},
                              self.category_choices)  # fmt: skip
        pledges = dates(batch, "pledge_date", self.today)
        capacity_text = batch.text.get("capacity_limit") or [""] * n
        rooms_text = batch.text.get("rooms") or [""] * n
        people, units = self._landlords(batch)
        _bids, _paths, house_ids, _unit_rooms = self.places.resolve(batch, need_room=True)
        taken = set(
            RentalHouse.objects.filter(house_id__in={h for h in house_ids if h is not None}).values_list(
                "house_id", flat=True
            )
        )
        records: list[HouseRecord] = []
        for i in range(n):
            if batch.blank[i]:
                continue
            capacity = None
            if capacity_text[i]:
                capacity = to_int(capacity_text[i])
                if capacity is None or not 1 <= capacity <= 1000:
                    batch.fail(i, "capacity_limit", E_NUMBER, min=1, max=1000)
            rooms = parse_rooms(rooms_text[i]) if batch.ok(i, "rooms") else []
            if rooms is None:
                batch.fail(i, "rooms", E_ROOMS)
            hid = house_ids[i]
            if hid is None:
                continue
            if hid in taken:
                batch.fail(i, "room", E_ALREADY_RENTAL)
            elif batch.ok(i, "room"):
                self.dedup(batch, i, "room", str(hid))
            if batch.bad[i]:
                continue
            records.append(
                HouseRecord(
                    batch.numbers[i], hid, int(category_ids[i]), people[i], units[i],
                    (batch.text.get("filing_number") or [""] * n)[i], pledges[i], capacity, rooms or [],
                )
            )  # fmt: skip
        return records

    def insert(self, records: list[HouseRecord]) -> int:
        grids = services.register_imported_houses(records, job_id=self.job_id)
        counts.refresh(grids)
        return len(records)

    def undo(self) -> None:
        if self.job_id is not None:
            grids = services.take_back_imported_houses(self.job_id)
            counts.refresh(grids)


# --- existing gradings -------------------------------------------------------------------------------
@dataclass
class GradingRecord:
    row: int
    rental_house_id: int
    grade: str
    graded_on: dt.date
    note: str


class GradingSpec(Spec):
    kind = ImportKind.GRADINGS
    columns = GRADING_COLUMNS
    required = GRADING_REQUIRED

    @classmethod
    def map_header(cls, header: list[str]) -> dict[str, int]:
        mapping = super().map_header(header)
        if "house_code" not in mapping and "building_code" not in mapping and "address" not in mapping:
            raise FileFault(E_HOUSE_OR_CODE)
        return mapping

    def _houses(self, batch: Batch) -> list[int | None]:
        """Per row: the rental house, by its code or by its address (building and room)."""
        n = len(batch.numbers)
        codes = batch.text.get("house_code") or [""] * n
        by_code: dict[str, tuple[int, str]] = {
            code: (pk, path)
            for code, pk, path in RentalHouse.objects.filter(
                code__in={c for c in codes if c}, is_active=True
            ).values_list("code", "pk", "house__building__grid__path")
        }
        out: list[int | None] = [None] * n
        for i, code in enumerate(codes):
            if batch.blank[i] or not code:
                continue
            hit = by_code.get(code)
            if hit is None:
                batch.fail(i, "house_code", E_NO_CODE)
            elif not self._visible(hit[1]):
                batch.fail(i, "house_code", E_OUT_OF_SCOPE)
            else:
                out[i] = hit[0]
        # Rows without a code: by address. The location columns of rows with a code are not read.
        if "building_code" not in batch.text and "address" not in batch.text:
            for i in range(n):
                if not batch.blank[i] and not codes[i]:
                    batch.fail(i, "house_code", E_HOUSE_OR_CODE)
            return out
        blank = [b or bool(codes[i]) for i, b in enumerate(batch.blank)]
        by_address = Batch(batch.numbers, batch.raw, batch.text, bad=list(batch.bad), blank=blank)
        _bids, _paths, house_ids, _ = self.places.resolve(by_address, need_room=True)
        index = {row: i for i, row in enumerate(batch.numbers)}
        for row, key, message, params in by_address.errors:
            batch.fail(index[row], key, message, **params)
        rentals = dict(
            RentalHouse.objects.filter(
                house_id__in={h for h in house_ids if h is not None}, is_active=True
            ).values_list("house_id", "pk")
        )
        for i, hid in enumerate(house_ids):
            if hid is None:
                continue
            if hid in rentals:
                out[i] = rentals[hid]
            else:
                batch.fail(i, "room", E_NOT_RENTAL)
        return out

    def remember(self, batch: Batch) -> None:
        for i, pk in enumerate(self._houses(batch)):
            if pk is not None:
                self.seen.setdefault(str(pk), batch.numbers[i])

    def validate(self, batch: Batch) -> list[GradingRecord]:
        n = len(batch.numbers)
        check_text(batch, self.columns)
        grades = choice(batch, "grade", GRADES, "宽管、关注、严管、禁止")
        days = dates(batch, "graded_on", self.today)
        houses = self._houses(batch)
        wanted = {pk for pk in houses if pk is not None}
        # Locked: an inspection recorded meanwhile cannot slip in before an imported one.
        last = dict(
            RentalHouse.objects.select_for_update()
            .filter(pk__in=wanted)
            .values_list("pk", "last_inspected_on")
        )
        graded = set(
            Inspection.objects.filter(rental_house_id__in=wanted).values_list(
                "rental_house_id", "inspected_on"
            )
        )
        records: list[GradingRecord] = []
        for i in range(n):
            pk = houses[i]
            if batch.blank[i] or pk is None:
                continue
            day = days[i]
            if day is None:
                if batch.ok(i, "graded_on"):
                    batch.fail(i, "graded_on", E_REQUIRED)
            elif (pk, day) in graded:
                batch.fail(i, "graded_on", E_SAME_DAY)
            elif (latest := last.get(pk)) is not None and day < latest:
                batch.fail(i, "graded_on", E_BEFORE_LAST, day=latest.isoformat())
            key = "house_code" if (batch.text.get("house_code") or [""] * n)[i] else "room"
            self.dedup(batch, i, key, str(pk))
            if batch.bad[i] or day is None:
                continue
            records.append(
                GradingRecord(batch.numbers[i], pk, grades[i], day, (batch.text.get("note") or [""] * n)[i])
            )
        return records

    def insert(self, records: list[GradingRecord]) -> int:
        grids = services.record_imported_gradings(records, user_id=self.user_id, job_id=self.job_id)
        counts.refresh(grids)
        return len(records)

    def undo(self) -> None:
        if self.job_id is not None:
            grids = services.take_back_imported_gradings(self.job_id)
            counts.refresh(grids)


SPECS: dict[str, type[Spec]] = {ImportKind.HOUSES: RentalListSpec, ImportKind.GRADINGS: GradingSpec}
