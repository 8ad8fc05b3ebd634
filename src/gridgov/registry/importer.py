"""The import engine: residents, houses and units from `.xlsx`/`.xls`/`.csv`, validated per row in
batches, written in bulk (PostgreSQL `COPY`, SQLite `executemany`), resumable.

A job reads its (decrypted) file as a `Sheet` and works through it in batches of
`GRIDGOV_REGISTRY_BATCH_ROWS` rows. Each batch runs in one transaction that writes the batch's rows,
its row errors and the job's `cursor` (rows done); a crash loses at most the batch in flight, and the
job resumes after its last committed batch without writing any row twice.

- mode `valid_rows`: one pass; valid rows are imported, bad rows reported.
- mode `all_or_nothing`: a first pass checks every row and writes nothing but errors; only a file
  without errors is imported, in a second pass (which checks each batch again: a conflict that appeared
  in between makes the job take back what it imported, so nothing changes).

Validation is batched: each column is cleaned as a list, ID numbers are checked with NumPy
(validators.check_id_numbers), duplicates are looked up with one query per batch through the keyed
hashes, addresses against buildings and houses cached per job. Error messages are msgids with
parameters, translated when shown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F
from django.utils import timezone

from gridgov.registry import vault
from gridgov.registry.models import (
    Household,
    ImportedHouse,
    ImportKind,
    Relation,
    ResidenceType,
    Resident,
    Source,
    Unit,
    UnitKind,
)
from gridgov.registry.sources import FileFault, column_letter
from gridgov.registry.validators import (
    check_credit_code,
    check_id_numbers,
    check_phone,
    gettext_noop,
    normalise_id,
    normalise_phone,
    parse_date,
)
from gridgov.territory.models import Building, House, HouseUse

# --- messages ----------------------------------------------------------------------------------------
E_MISSING_COLUMNS = gettext_noop("Required columns are missing: %(columns)s. The template has: %(expected)s")
E_UNKNOWN_COLUMNS = gettext_noop("Unknown columns: %(columns)s. The template has: %(expected)s")
E_DUPLICATE_COLUMNS = gettext_noop("A column appears twice: %(columns)s")
E_LOCATION_COLUMNS = gettext_noop("Give the building code or the address of each row")
E_REQUIRED = gettext_noop("This cell is required")
E_TOO_LONG = gettext_noop("Too long: %(length)s characters, at most %(max)s")
E_FORMULA = gettext_noop("The cell holds a formula; paste the values only")
E_CONTROL = gettext_noop("The text holds control characters")
E_CHOICE = gettext_noop("Choose one of: %(choices)s")
E_DATE = gettext_noop("Enter a date as YYYY-MM-DD")
E_FUTURE = gettext_noop("The date lies in the future")
E_BEFORE_BIRTH = gettext_noop("The date lies before the birth date")
E_MOVED_OUT_BEFORE = gettext_noop("The move-out date lies before the move-in date")
E_BIRTH_MISMATCH = gettext_noop("The birth date differs from the one in the ID number (%(expected)s)")
E_GENDER_MISMATCH = gettext_noop("The gender differs from the one in the ID number (%(expected)s)")
E_DUP_FILE = gettext_noop("Duplicate: the same value is in row %(row)s")
E_DUP_DB = gettext_noop("Already registered in the system")
E_NO_BUILDING = gettext_noop("No building with this code or address")
E_OUT_OF_SCOPE = gettext_noop("The building lies outside your area")
E_NO_HOUSE = gettext_noop("No house %(room)s (unit %(unit)s) in this building")
E_HEAD_EXISTS = gettext_noop("This household already has a head")
E_HEAD_TWICE = gettext_noop("The household already has a head in row %(row)s")
E_NUMBER = gettext_noop("Enter a whole number between %(min)s and %(max)s")
E_CONFLICT = gettext_noop("Changed in the system while the file was imported: %(reason)s")
E_CONFLICT_ROWS = gettext_noop("some rows are now duplicates; nothing was imported")

FORMULA_START = ("=", "+", "-", "@")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_UNIT_RE = re.compile(r"(单元|unit)$", re.I)
_ROOM_RE = re.compile(r"(室|房|号)$")
_ADDRESS_RE = re.compile(
    r"^(?P<building>.+?栋)\s*(?:(?P<unit>[0-9A-Za-z]+)单元)?\s*(?P<room>[0-9A-Za-z-]+)?[室房号]?$"
)

RESIDENCE_TYPES = {
    "户籍": ResidenceType.REGISTERED,
    "户籍人口": ResidenceType.REGISTERED,
    "常住": ResidenceType.REGISTERED,
    "流动": ResidenceType.FLOATING,
    "流动人口": ResidenceType.FLOATING,
    "租住": ResidenceType.TENANT,
    "租户": ResidenceType.TENANT,
    "租客": ResidenceType.TENANT,
    **{v.value: v.value for v in ResidenceType},
}
GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "M": "M", "F": "F"}
RELATIONS = {
    "户主": Relation.HEAD,
    "本人": Relation.HEAD,
    "配偶": Relation.SPOUSE,
    "妻": Relation.SPOUSE,
    "夫": Relation.SPOUSE,
    "妻子": Relation.SPOUSE,
    "丈夫": Relation.SPOUSE,
    "子女": Relation.CHILD,
    "子": Relation.CHILD,
    "女": Relation.CHILD,
    "儿子": Relation.CHILD,
    "女儿": Relation.CHILD,
    "父母": Relation.PARENT,
    "父亲": Relation.PARENT,
    "母亲": Relation.PARENT,
    "孙子女": Relation.GRANDCHILD,
    "孙子": Relation.GRANDCHILD,
    "孙女": Relation.GRANDCHILD,
    "其他": Relation.OTHER,
    **{v.value: v.value for v in Relation},
}
HOUSE_USES = {
    "自住": HouseUse.OWNER_OCCUPIED,
    "出租": HouseUse.RENTED,
    "商用": HouseUse.COMMERCIAL,
    "商铺": HouseUse.COMMERCIAL,
    "空置": HouseUse.VACANT,
    **{v.value: v.value for v in HouseUse},
}
UNIT_KINDS = {
    "企业": UnitKind.COMPANY,
    "公司": UnitKind.COMPANY,
    "商铺": UnitKind.SHOP,
    "个体工商户": UnitKind.SHOP,
    "门店": UnitKind.SHOP,
    "机构": UnitKind.ORGANISATION,
    "社会组织": UnitKind.ORGANISATION,
    "事业单位": UnitKind.ORGANISATION,
    **{v.value: v.value for v in UnitKind},
}


# --- columns -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    header: str  # the template's header
    aliases: tuple[str, ...] = ()
    required: bool = False  # the cell must be filled
    max_len: int = 100
    text: bool = False  # free text: formulas and control characters refused
    example: str = ""
    note: str = ""  # explanation in the template (Chinese: the template is for the field)


LOCATION = (
    Column("building_code", "楼栋编码", ("building_code", "楼栋代码"), max_len=24, example="440309002001000001",
           note="楼栋编码，与“地址”二选一"),
    Column("address", "地址", ("address", "楼栋地址", "住址"), max_len=200, text=True,
           example="民治街道民治社区民治一区1栋", note="楼栋地址；也可写成“…1栋2单元0301”"),
    Column("unit", "单元", ("unit",), max_len=10, text=True, example="", note="单元号，没有单元可空"),
)  # fmt: skip

RESIDENT_COLUMNS = (
    Column("name", "姓名", ("name",), required=True, max_len=50, text=True, example="张三"),
    Column("gender", "性别", ("gender", "sex"), max_len=8, example="男", note="男/女；空则按身份证号"),
    Column("id_number", "公民身份号码", ("id_number", "身份证号", "身份证号码", "身份证"), required=True,
           max_len=32, example="440309199001011237", note="18位，末位可为X；请设为文本格式"),
    Column("birth_date", "出生日期", ("birth_date", "出生年月日"), max_len=20, example="1990-01-01",
           note="可空；填写则须与身份证号一致"),
    Column("phone", "联系电话", ("phone", "手机号", "手机号码", "电话"), max_len=20, example="13800138000"),
    Column("residence_type", "人员类型", ("residence_type", "居住类型"), required=True, max_len=8,
           example="户籍", note="户籍 / 流动 / 租住"),
    *LOCATION,
    Column("room", "房号", ("room", "门牌号", "房间号"), max_len=10, text=True, example="0301"),
    Column("household_no", "户号", ("household_no", "household"), max_len=32, text=True, example="H0001",
           note="同一房屋内区分不同的户；可空"),
    Column("relation", "与户主关系", ("relation",), max_len=8, example="户主",
           note="户主/配偶/子女/父母/孙子女/其他"),
    Column("moved_in", "迁入日期", ("moved_in", "入住日期"), max_len=20, example="2020-05-01"),
    Column("moved_out", "迁出日期", ("moved_out",), max_len=20, example=""),
)  # fmt: skip

HOUSE_COLUMNS = (
    *LOCATION,
    Column("floor", "楼层", ("floor",), max_len=4, example="3", note="空则按房号推算"),
    Column("room", "房号", ("room", "门牌号"), required=True, max_len=10, text=True, example="0301"),
    Column("use", "用途", ("use", "房屋用途"), max_len=8, example="出租", note="自住/出租/商用/空置"),
    Column("households", "户数", ("households",), max_len=3, example="1"),
)  # fmt: skip

UNIT_COLUMNS = (
    Column("name", "单位名称", ("name", "名称"), required=True, max_len=100, text=True, example="深圳某某科技有限公司"),
    Column("credit_code", "统一社会信用代码", ("credit_code", "信用代码"), max_len=32,
           example="91440300MA5DC6QX9X", note="18位，可空"),
    Column("kind", "单位类型", ("kind", "类型"), max_len=8, example="企业", note="企业/商铺/机构"),
    *LOCATION,
    Column("room", "房号", ("room", "门牌号"), max_len=10, text=True, example=""),
    Column("contact_name", "联系人", ("contact_name", "联系人姓名"), max_len=50, text=True, example="李四"),
    Column("phone", "联系电话", ("phone", "电话"), max_len=20, example="13900139000"),
    Column("employees", "从业人数", ("employees", "员工人数"), max_len=8, example="12"),
)  # fmt: skip

COLUMNS = {
    ImportKind.RESIDENTS: RESIDENT_COLUMNS,
    ImportKind.HOUSES: HOUSE_COLUMNS,
    ImportKind.UNITS: UNIT_COLUMNS,
}
REQUIRED_HEADERS = {
    ImportKind.RESIDENTS: ("name", "id_number", "residence_type"),
    ImportKind.HOUSES: ("room",),
    ImportKind.UNITS: ("name",),
}


def _norm_header(text: str) -> str:
    return re.sub(r"[\s_*（）()]", "", text).lower()


def map_header(kind: str, header: list[str]) -> dict[str, int]:
    """Column key → index in the sheet. Unknown, missing or repeated columns are a fault of the file."""
    columns = COLUMNS[kind]
    lookup: dict[str, str] = {}
    for c in columns:
        for name in (c.header, c.key, *c.aliases):
            lookup[_norm_header(name)] = c.key
    found: dict[str, int] = {}
    unknown: list[str] = []
    repeated: list[str] = []
    for i, name in enumerate(header):
        if not name:
            continue
        key = lookup.get(_norm_header(name))
        if key is None:
            unknown.append(name[:40])
        elif key in found:
            repeated.append(name[:40])
        else:
            found[key] = i
    expected = "、".join(c.header for c in columns)
    missing = [c.header for c in columns if c.key in REQUIRED_HEADERS[kind] and c.key not in found]
    if missing:
        raise FileFault(E_MISSING_COLUMNS, columns="、".join(missing), expected=expected)
    if unknown:
        raise FileFault(E_UNKNOWN_COLUMNS, columns="、".join(unknown[:10]), expected=expected)
    if repeated:
        raise FileFault(E_DUPLICATE_COLUMNS, columns="、".join(repeated))
    if "building_code" not in found and "address" not in found:
        raise FileFault(E_LOCATION_COLUMNS)
    return found


# --- cells -------------------------------------------------------------------------------------------
def cell_text(value) -> str:
    if value.__class__ is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return format(value, ".0f") if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


@dataclass
class Batch:
    """The rows of one batch as columns, and the faults found so far (one per cell, the first wins)."""

    numbers: list[int]
    raw: dict[str, list]
    text: dict[str, list[str]] = field(default_factory=dict)
    errors: list[tuple[int, str, str, dict]] = field(default_factory=list)
    bad: list[bool] = field(default_factory=list)
    blank: list[bool] = field(default_factory=list)
    _cell_bad: set[tuple[int, str]] = field(default_factory=set)

    def fail(self, i: int, key: str, message: str, **params) -> None:
        if (i, key) in self._cell_bad:
            return
        self._cell_bad.add((i, key))
        self.errors.append((self.numbers[i], key, message, params))
        self.bad[i] = True

    def ok(self, i: int, key: str) -> bool:
        return (i, key) not in self._cell_bad


def _make_batch(rows: list[tuple[int, list]], mapping: dict[str, int], formulas) -> Batch:
    numbers = [n for n, _ in rows]
    raw: dict[str, list] = {}
    for key, idx in mapping.items():
        raw[key] = [r[idx] if idx < len(r) else "" for _, r in rows]
    batch = Batch(numbers, raw, bad=[False] * len(rows))
    for key, values in raw.items():
        batch.text[key] = [v.strip() if v.__class__ is str else cell_text(v) for v in values]
    keys = list(batch.text)
    batch.blank = [not any(batch.text[k][i] for k in keys) for i in range(len(rows))]
    if formulas:
        for i, n in enumerate(numbers):
            for key, idx in mapping.items():
                if (n, idx) in formulas:
                    batch.fail(i, key, E_FORMULA)
    return batch


def _check_text(batch: Batch, columns: tuple[Column, ...]) -> None:
    for c in columns:
        values = batch.text.get(c.key)
        if values is None:
            continue
        for i, v in enumerate(values):
            if batch.blank[i]:
                continue
            if not v:
                if c.required:
                    batch.fail(i, c.key, E_REQUIRED)
            elif len(v) > c.max_len:
                batch.fail(i, c.key, E_TOO_LONG, length=len(v), max=c.max_len)
            elif c.text and (v[0] in FORMULA_START or _CONTROL_RE.search(v)):
                batch.fail(i, c.key, E_FORMULA if v[0] in FORMULA_START else E_CONTROL)


def _choice(batch: Batch, key: str, mapping: dict[str, str], choices: str, default: str = "") -> list[str]:
    out: list[str] = []
    for i, v in enumerate(batch.text.get(key) or [""] * len(batch.numbers)):
        if not v:
            out.append(default)
            continue
        found = mapping.get(v) or mapping.get(v.lower())
        if found is None and not batch.blank[i]:
            batch.fail(i, key, E_CHOICE, choices=choices)
        out.append(found or "")
    return out


def _dates(batch: Batch, key: str, today: dt.date) -> list[dt.date | None]:
    out: list[dt.date | None] = []
    fromiso = dt.date.fromisoformat
    values = batch.raw.get(key)
    if values is None:
        return [None] * len(batch.numbers)
    for i, v in enumerate(values):
        d = None
        if v.__class__ is str and len(v) == 10:
            try:
                d = fromiso(v)
            except ValueError:
                d = None
        if d is None and v not in ("", None) and batch.ok(i, key):
            try:
                d = parse_date(v)
            except (ValueError, TypeError, OverflowError):
                batch.fail(i, key, E_DATE)
        if d is not None and d > today:
            batch.fail(i, key, E_FUTURE)
        out.append(d)
    return out


# --- the job's world: buildings and houses in scope ----------------------------------------------------
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

    @staticmethod
    def unit_key(unit: str) -> str:
        return _UNIT_RE.sub("", unit).strip()

    @staticmethod
    def room_key(room: str) -> str:
        return _ROOM_RE.sub("", room).strip().lstrip("0") or "0"

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
            hit = self.houses.get((bids[i], self.unit_key(units[i]), self.room_key(rooms[i])))
            if hit is None and not units[i]:
                hit = self.houses.get((bids[i], "*", self.room_key(rooms[i])))
                hit = hit if hit and hit[0] else None
            if hit is None:
                if need_room is not None:
                    batch.fail(i, "room", E_NO_HOUSE, room=rooms[i], unit=units[i] or "—")
                continue
            house_ids[i] = hit[0]
        return bids, paths, house_ids, list(zip(units, rooms, strict=True))


# --- writing -------------------------------------------------------------------------------------------
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def allocate_ids(model, n: int) -> list[int]:
    """n fresh primary keys, so rows can point at each other before they are written."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as c:
        if is_postgres():
            c.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, n]
            )
            return [r[0] for r in c.fetchall()]
        c.execute(f'SELECT COALESCE(MAX("id"), 0) FROM "{table}"')  # noqa: S608 - a model's own table
        top = c.fetchone()[0]
        c.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = c.fetchone()
        start = max(top, row[0] if row else 0) + 1
        return list(range(start, start + n))


def _copy_converters(model, columns: list[str]) -> list[Callable]:
    """Per column, a function from a Python value to COPY's text format (\\N for NULL)."""
    from django.db import models as m

    def text(v):
        if v is None:
            return "\\N"
        v = str(v)
        if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
            v = v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        return v

    def binary(v):
        return "\\N" if v is None else "\\\\x" + v.hex()

    def plain(v):
        return "\\N" if v is None else str(v)

    def iso(v):
        return "\\N" if v is None else v if v.__class__ is str else v.isoformat()

    out = []
    for name in columns:
        field = model._meta.get_field(name.removesuffix("_id") if name.endswith("_id") else name)
        if isinstance(field, m.BinaryField):
            out.append(binary)
        elif isinstance(field, m.DateField):  # DateTimeField too
            out.append(iso)
        elif isinstance(field, m.IntegerField | m.ForeignKey | m.AutoField):
            out.append(plain)
        else:
            out.append(text)
    return out


def copy_text(model, columns: list[str], rows: list[tuple]) -> str:
    """Rows in COPY's text format (built in Python, so the writer only streams bytes)."""
    converters = _copy_converters(model, columns)
    return "".join("\t".join([f(v) for f, v in zip(converters, r, strict=True)]) + "\n" for r in rows)


def write_rows(model, columns: list[str], rows: list[tuple] | None, *, text: str | None = None) -> None:
    """Bulk insert: COPY (text format) on PostgreSQL, executemany on SQLite."""
    if not rows and not text:
        return
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)
    if is_postgres():
        raw = connection.connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            if text is not None:
                for start in range(0, len(text), 1 << 20):
                    copy.write(text[start : start + (1 << 20)])
            else:
                for start in range(0, len(rows), 5000):
                    copy.write(copy_text(model, columns, rows[start : start + 5000]))
    else:
        marks = ", ".join(["%s"] * len(columns))
        with connection.cursor() as c:
            c.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({marks})', rows)  # noqa: S608


@dataclass
class Write:
    model: type
    columns: list[str]
    rows: list[tuple] | None
    text: str | None = None


@dataclass
class Prepared:
    """A batch ready to write: rows (or COPY text), later updates, the count of records."""

    writes: list[Write]
    updates: list[tuple[int, int]]  # (resident id, household id): a head for an existing household
    count: int


def db_now():
    """The current time as the bulk writer wants it (ISO text for COPY, Django's format for SQLite)."""
    now = timezone.now()
    return now.isoformat() if is_postgres() else connection.ops.adapt_datetimefield_value(now)


def existing(model, column: str, values: list) -> set:
    """The values of `column` already in the table (PostgreSQL: one `= ANY(array)` query)."""
    found: set = set()
    values = [v for v in set(values) if v]
    if not values:
        return found
    if is_postgres():
        table = model._meta.db_table
        with connection.cursor() as c:
            c.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" = ANY(%s)', [values])  # noqa: S608
            found.update(r[0] for r in c.fetchall())
        return found
    for start in range(0, len(values), 5000):
        chunk = values[start : start + 5000]
        found.update(model.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True))
    return found


def households_of(house_ids: list[int]) -> list[tuple[int, int, str, int | None]]:
    """(id, house id, number, head id) of the households in these houses."""
    if not house_ids:
        return []
    if is_postgres():
        with connection.cursor() as c:
            c.execute(
                'SELECT "id", "house_id", "number", "head_id" FROM "registry_household" WHERE "house_id" = ANY(%s)',
                [house_ids],
            )
            return c.fetchall()
    out = []
    for start in range(0, len(house_ids), 5000):
        out += Household.objects.filter(house_id__in=house_ids[start : start + 5000]).values_list(
            "id", "house_id", "number", "head_id"
        )
    return out


# --- the kinds -----------------------------------------------------------------------------------------
class Spec:
    kind: str
    columns: tuple[Column, ...]

    def __init__(
        self, *, job_id: int | None, user_id: int | None, places: Places, today: dt.date | None = None
    ):
        self.job_id = job_id
        self.user_id = user_id
        self.places = places
        self.today = today or timezone.localdate()
        self.seen: dict[str, int] = {}

    def remember(self, batch: Batch) -> None:
        """Register the duplicate keys of rows done before a resume."""

    def validate(self, batch: Batch) -> list:
        raise NotImplementedError

    def insert(self, records: list) -> int:
        raise NotImplementedError

    pipelined = False  # True: prepare() in the reading thread, apply() in the writing thread

    def prepare(self, records: list) -> Prepared:
        raise NotImplementedError

    def apply(self, prepared: Prepared) -> int:
        raise NotImplementedError

    def undo(self) -> None:
        """Take back what the job imported (all-or-nothing, after a late conflict)."""

    def _dedup(self, batch: Batch, i: int, key: str, value: str) -> bool:
        first = self.seen.get(value)
        if first is not None and first != batch.numbers[i]:
            batch.fail(i, key, E_DUP_FILE, row=first)
            return False
        self.seen[value] = batch.numbers[i]
        return True


def _check_phones(batch: Batch) -> list[str]:
    phones = [normalise_phone(v) for v in batch.raw.get("phone") or [""] * len(batch.numbers)]
    for i, p in enumerate(phones):
        if p and batch.ok(i, "phone") and check_phone(p):
            batch.fail(i, "phone", check_phone(p))
    return phones


@dataclass
class ResidentRecord:
    row: int
    name: str
    gender: str
    birth: str
    id_number: str
    id_hash: str
    phone: str
    residence_type: str
    moved_in: dt.date | None
    moved_out: dt.date | None
    relation: str
    building_id: int
    house_id: int
    household: tuple[int, str]


class ResidentSpec(Spec):
    kind = ImportKind.RESIDENTS
    columns = RESIDENT_COLUMNS

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads: dict[tuple[int, str], int] = {}
        self._created: dict[tuple[int, str], tuple[int, int | None]] = {}  # households this job made
        self._households: dict = {}
        self.sealer = vault.BatchSealer()

    def _ids(self, batch: Batch) -> list[str]:
        return [normalise_id(v) for v in batch.raw["id_number"]]

    def remember(self, batch: Batch) -> None:
        for i, v in enumerate(self._ids(batch)):
            if v and not batch.blank[i]:
                self.seen.setdefault(v, batch.numbers[i])

    def validate(self, batch: Batch) -> list[ResidentRecord]:
        n = len(batch.numbers)
        _check_text(batch, self.columns)
        ids = self._ids(batch)
        for i, fault in enumerate(check_id_numbers(ids, today=self.today)):
            if fault and ids[i] and not batch.blank[i]:
                batch.fail(i, "id_number", fault)
        phones = _check_phones(batch)
        rtypes = _choice(batch, "residence_type", RESIDENCE_TYPES, "户籍、流动、租住")
        genders = _choice(batch, "gender", GENDERS, "男、女")
        relations = _choice(batch, "relation", RELATIONS, "户主、配偶、子女、父母、孙子女、其他")
        births = _dates(batch, "birth_date", self.today)
        moved_in = _dates(batch, "moved_in", self.today)
        moved_out = _dates(batch, "moved_out", self.today)
        bids, _paths, house_ids, _ = self.places.resolve(batch, need_room=True)
        numbers_hh = batch.text.get("household_no") or [""] * n

        valid_ids: list[int] = []
        for i in range(n):
            if batch.blank[i] or not batch.ok(i, "id_number") or not ids[i]:
                continue
            v = ids[i]
            birth_iso = f"{v[6:10]}-{v[10:12]}-{v[12:14]}"
            if births[i] is not None and births[i].isoformat() != birth_iso:
                batch.fail(i, "birth_date", E_BIRTH_MISMATCH, expected=birth_iso)
            sex = "M" if (ord(v[16]) - 48) % 2 else "F"
            if genders[i] and genders[i] != sex:
                batch.fail(i, "gender", E_GENDER_MISMATCH, expected="男" if sex == "M" else "女")
            genders[i] = sex
            if moved_in[i] is not None and moved_in[i].isoformat() < birth_iso:
                batch.fail(i, "moved_in", E_BEFORE_BIRTH)
            if moved_out[i] is not None and moved_in[i] is not None and moved_out[i] < moved_in[i]:
                batch.fail(i, "moved_out", E_MOVED_OUT_BEFORE)
            if self._dedup(batch, i, "id_number", v):
                valid_ids.append(i)
        hashes = [""] * n
        for i, h in zip(valid_ids, self.sealer.hashes([ids[i] for i in valid_ids]), strict=True):
            hashes[i] = h
        taken = existing(Resident, "id_hash", [hashes[i] for i in valid_ids])
        for i in valid_ids:
            if hashes[i] in taken:
                batch.fail(i, "id_number", E_DUP_DB)

        # Households and their heads.
        keys = {(house_ids[i], numbers_hh[i]) for i in range(n) if house_ids[i] is not None}
        current: dict[tuple[int, str], tuple[int, int | None]] = {}  # → (household id, head id)
        for hid, house_id, number, head_id in households_of(list({k[0] for k in keys})):
            current[(house_id, number)] = (hid, head_id)
        for k in keys:
            if k in self._created:
                current[k] = self._created[k]
        records: list[ResidentRecord] = []
        for i in range(n):
            if batch.blank[i] or house_ids[i] is None:
                continue
            key = (house_ids[i], numbers_hh[i])
            if relations[i] == Relation.HEAD and batch.ok(i, "relation"):
                if self.heads.get(key, batch.numbers[i]) != batch.numbers[i]:
                    batch.fail(i, "relation", E_HEAD_TWICE, row=self.heads[key])
                elif current.get(key, (None, None))[1] is not None:
                    batch.fail(i, "relation", E_HEAD_EXISTS)
                else:
                    self.heads[key] = batch.numbers[i]
            if batch.bad[i]:
                continue
            v = ids[i]
            records.append(
                ResidentRecord(
                    batch.numbers[i],
                    batch.text["name"][i],
                    genders[i],
                    f"{v[6:10]}-{v[10:12]}-{v[12:14]}",
                    v,
                    hashes[i],
                    phones[i],
                    rtypes[i],
                    moved_in[i],
                    moved_out[i],
                    relations[i],
                    bids[i],
                    house_ids[i],
                    key,
                )
            )
        self._households = current
        return records

    RESIDENT_FIELDS = [
        "id", "name", "gender", "birth_date", "id_enc", "id_hash", "phone_enc", "phone_hash", "pii_key",
        "residence_type", "moved_in", "moved_out", "relation", "building_id", "house_id", "household_id",
        "collected_by_id", "source", "import_job_id", "source_row", "version", "created_at", "updated_at",
    ]  # fmt: skip
    HOUSEHOLD_FIELDS = [
        "id", "house_id", "number", "head_id", "source", "import_job_id", "version", "created_at", "updated_at"
    ]  # fmt: skip

    pipelined = True

    def insert(self, records: list[ResidentRecord]) -> int:
        return self.apply(self.prepare(records)) if records else 0

    def prepare(self, records: list[ResidentRecord]) -> Prepared:
        now = db_now()
        sealer = self.sealer
        id_enc = sealer.seal([r.id_number for r in records], "id_number")
        phone_enc = sealer.seal([r.phone for r in records], "phone")
        phone_hash = sealer.hashes([r.phone for r in records])
        resident_ids = allocate_ids(Resident, len(records))
        households = self._households
        new_keys = [k for k in dict.fromkeys(r.household for r in records) if k not in households]
        new_ids = dict(zip(new_keys, allocate_ids(Household, len(new_keys)), strict=True))
        heads: dict[tuple[int, str], int] = {}
        for r, rid in zip(records, resident_ids, strict=True):
            if r.relation == Relation.HEAD:
                heads[r.household] = rid
        for k, hid in new_ids.items():  # later batches may add people to them before this one commits
            self._created[k] = (hid, heads.get(k))
        household_rows = [
            (hid, k[0], k[1], heads.get(k), Source.IMPORT, self.job_id, 1, now, now)
            for k, hid in new_ids.items()
        ]
        existing_ids = {k: v[0] for k, v in households.items()}
        key = sealer.key.id
        rows = []
        for r, rid, ie, pe, ph in zip(records, resident_ids, id_enc, phone_enc, phone_hash, strict=True):
            hid = new_ids.get(r.household) or existing_ids.get(r.household)
            rows.append(
                (
                    rid, r.name, r.gender, r.birth, ie, r.id_hash, pe, ph, key, r.residence_type, r.moved_in,
                    r.moved_out, r.relation, r.building_id, r.house_id, hid, self.user_id, Source.IMPORT,
                    self.job_id, r.row, 1, now, now,
                )
            )  # fmt: skip
        writes = [
            Write(Household, self.HOUSEHOLD_FIELDS, household_rows),
            Write(Resident, self.RESIDENT_FIELDS, rows),
        ]
        if is_postgres():
            writes[0].text, writes[0].rows = copy_text(Household, self.HOUSEHOLD_FIELDS, household_rows), None
            writes[1].text, writes[1].rows = self._resident_copy_text(rows), None
        late = [(rid, existing_ids[k]) for k, rid in heads.items() if k in existing_ids and k not in new_ids]
        return Prepared(writes, late, len(rows))

    @staticmethod
    def _resident_copy_text(rows: list[tuple]) -> str:
        """The resident rows in COPY text format, written out for their known types (the hot loop of a
        million-row import; `copy_text` does the same generically). Names hold no control characters
        (validated), so only a backslash needs escaping."""
        null = "\\N"
        hexa = "\\\\x"
        out = []
        append = out.append
        for (rid, name, gender, birth, ie, ih, pe, ph, key, rtype, moved_in, moved_out, relation, bid, house,
             household, user, source, job, row, version, created, updated) in rows:  # fmt: skip
            if "\\" in name:
                name = name.replace("\\", "\\\\")
            phone = hexa + pe.hex() if pe else null
            d_in = moved_in.isoformat() if moved_in is not None else null
            d_out = moved_out.isoformat() if moved_out is not None else null
            append(
                f"{rid}\t{name}\t{gender}\t{birth}\t{hexa}{ie.hex()}\t{ih}\t{phone}\t{ph}\t{key}\t{rtype}\t"
                f"{d_in}\t{d_out}\t{relation}\t{bid}\t{null if house is None else house}\t"
                f"{null if household is None else household}\t{null if user is None else user}\t{source}\t"
                f"{null if job is None else job}\t{null if row is None else row}\t{version}\t{created}\t{updated}\n"
            )
        return "".join(out)

    def apply(self, prepared: Prepared) -> int:
        for w in prepared.writes:
            write_rows(w.model, w.columns, w.rows, text=w.text)
        for rid, hid in prepared.updates:
            Household.objects.filter(pk=hid, head__isnull=True).update(head_id=rid, version=F("version") + 1)
        return prepared.count

    def undo(self) -> None:
        if self.job_id is None:
            return
        Household.objects.filter(head__import_job_id=self.job_id).update(head=None)
        Resident.objects.filter(import_job_id=self.job_id).delete()
        Household.objects.filter(import_job_id=self.job_id).delete()


class HouseSpec(Spec):
    kind = ImportKind.HOUSES
    columns = HOUSE_COLUMNS

    def _key(self, bid: int, unit: str, room: str) -> str:
        return f"{bid}|{Places.unit_key(unit)}|{Places.room_key(room)}"

    def remember(self, batch: Batch) -> None:
        bids, _, _, unit_rooms = self.places.resolve(batch, need_room=None)
        for i, bid in enumerate(bids):
            if bid is not None and unit_rooms[i][1]:
                self.seen.setdefault(self._key(bid, *unit_rooms[i]), batch.numbers[i])

    def validate(self, batch: Batch) -> list[tuple]:
        n = len(batch.numbers)
        _check_text(batch, self.columns)
        uses = _choice(batch, "use", HOUSE_USES, "自住、出租、商用、空置", default=HouseUse.OWNER_OCCUPIED)
        bids, _paths, house_ids, unit_rooms = self.places.resolve(batch, need_room=None)
        floors = batch.text.get("floor") or [""] * n
        counts = batch.text.get("households") or [""] * n
        records = []
        for i in range(n):
            if batch.blank[i] or bids[i] is None:
                continue
            unit, room = unit_rooms[i]
            if not room:
                continue
            floor = _int(floors[i]) if floors[i] else _floor_of(room)
            if floor is None or not -5 <= floor <= 200:
                batch.fail(i, "floor", E_NUMBER, min=-5, max=200)
            households = _int(counts[i]) if counts[i] else (0 if uses[i] in ("vacant", "commercial") else 1)
            if households is None or not 0 <= households <= 20:
                batch.fail(i, "households", E_NUMBER, min=0, max=20)
            if house_ids[i] is not None:
                batch.fail(i, "room", E_DUP_DB)
            if batch.ok(i, "room"):
                self._dedup(batch, i, "room", self._key(bids[i], unit, room))
            if not batch.bad[i]:
                records.append((bids[i], Places.unit_key(unit), floor, room, uses[i], households))
        return records

    def insert(self, records: list[tuple]) -> int:
        houses = [
            House(building_id=b, unit=u, floor=f, room=r, use=use, households=h)
            for b, u, f, r, use, h in records
        ]
        House.objects.bulk_create(houses, batch_size=2000)
        if self.job_id is not None:
            if any(h.pk is None for h in houses):  # a backend without RETURNING: look them up
                for h in houses:
                    h.pk = House.objects.get(
                        building_id=h.building_id, unit=h.unit, floor=h.floor, room=h.room
                    ).pk
            ImportedHouse.objects.bulk_create(
                [ImportedHouse(job_id=self.job_id, house_id=h.pk) for h in houses]
            )
        for h in houses:
            self.places.add_house(h.building_id, h.unit, h.room, h.pk, h.floor)
        return len(houses)

    def undo(self) -> None:
        if self.job_id is None:
            return
        ids = list(ImportedHouse.objects.filter(job_id=self.job_id).values_list("house_id", flat=True))
        for start in range(0, len(ids), 5000):
            House.objects.filter(pk__in=ids[start : start + 5000]).delete()


def _int(text: str) -> int | None:
    try:
        return int(float(text)) if text.replace(".", "", 1).lstrip("-").isdigit() else None
    except ValueError:
        return None


def _floor_of(room: str) -> int | None:
    digits = Places.room_key(room)
    return int(digits[:-2]) if digits.isdigit() and len(digits) >= 3 else 1


class UnitSpec(Spec):
    kind = ImportKind.UNITS
    columns = UNIT_COLUMNS

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sealer = vault.BatchSealer()

    def remember(self, batch: Batch) -> None:
        for i, v in enumerate(batch.text.get("credit_code") or []):
            if v:
                self.seen.setdefault(v.upper(), batch.numbers[i])

    def validate(self, batch: Batch) -> list[tuple]:
        n = len(batch.numbers)
        _check_text(batch, self.columns)
        kinds = _choice(batch, "kind", UNIT_KINDS, "企业、商铺、机构", default=UnitKind.COMPANY)
        phones = _check_phones(batch)
        codes = [c.upper() for c in batch.text.get("credit_code") or [""] * n]
        bids, _paths, house_ids, _ = self.places.resolve(batch, need_room=False)
        employees = batch.text.get("employees") or [""] * n
        addresses = batch.text.get("address") or [""] * n
        checked: list[int] = []
        for i in range(n):
            if batch.blank[i]:
                continue
            if codes[i] and batch.ok(i, "credit_code"):
                fault = check_credit_code(codes[i])
                if fault:
                    batch.fail(i, "credit_code", fault)
                elif self._dedup(batch, i, "credit_code", codes[i]):
                    checked.append(i)
            count = _int(employees[i]) if employees[i] else 0
            if count is None or not 0 <= count <= 1_000_000:
                batch.fail(i, "employees", E_NUMBER, min=0, max=1_000_000)
            employees[i] = count
        taken = existing(Unit, "credit_code", [codes[i] for i in checked])
        for i in checked:
            if codes[i] in taken:
                batch.fail(i, "credit_code", E_DUP_DB)
        records = []
        for i in range(n):
            if batch.blank[i] or batch.bad[i] or bids[i] is None:
                continue
            records.append(
                (
                    batch.numbers[i], batch.text["name"][i], codes[i] or None, kinds[i], addresses[i], bids[i],
                    house_ids[i], (batch.text.get("contact_name") or [""] * n)[i], phones[i], employees[i],
                )
            )  # fmt: skip
        return records

    UNIT_FIELDS = [
        "name", "credit_code", "kind", "address", "building_id", "house_id", "contact_name", "phone_enc",
        "phone_hash", "pii_key", "employees", "collected_by_id", "source", "import_job_id", "source_row",
        "version", "created_at", "updated_at",
    ]  # fmt: skip

    def insert(self, records: list[tuple]) -> int:
        if not records:
            return 0
        now = db_now()
        phones = [r[8] for r in records]
        enc = self.sealer.seal(phones, "phone")
        hashes = self.sealer.hashes(phones)
        key = self.sealer.key.id
        address_of = {bid: address for bid, address in Building.objects.filter(
            id__in={r[5] for r in records}).values_list("id", "address")}  # fmt: skip
        rows = [
            (
                name, code, kind, address or address_of.get(bid, ""), bid, hid, contact, e, h, key if e else "",
                employees, self.user_id, Source.IMPORT, self.job_id, row, 1, now, now,
            )
            for (row, name, code, kind, address, bid, hid, contact, _p, employees), e, h in zip(
                records, enc, hashes, strict=True
            )
        ]  # fmt: skip
        write_rows(Unit, self.UNIT_FIELDS, rows)
        return len(rows)

    def undo(self) -> None:
        if self.job_id is not None:
            Unit.objects.filter(import_job_id=self.job_id).delete()


SPECS: dict[str, type[Spec]] = {
    ImportKind.RESIDENTS: ResidentSpec,
    ImportKind.HOUSES: HouseSpec,
    ImportKind.UNITS: UnitSpec,
}


def make_batch(kind: str, rows, mapping, formulas=None) -> Batch:
    return _make_batch(rows, mapping, formulas or set())


def cell_name(mapping: dict[str, int], key: str, row: int) -> str:
    idx = mapping.get(key)
    return f"{column_letter(idx)}{row}" if idx is not None else f"{row}"
