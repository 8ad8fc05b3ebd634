"""The registry's import specs: residents, houses and units from `.xlsx`/`.xls`/`.csv`, declared on the
tabular kernel (`gridgov.core.tabular`: readers, batches, the bulk writer, the job runner) with addresses
matched by `gridgov.territory.places`.

Validation is batched: each column is cleaned as a list, ID numbers are checked with NumPy
(validators.check_id_numbers), duplicates are looked up with one query per batch through the keyed
hashes, addresses against buildings and houses cached per job. Error messages are msgids with
parameters, translated when shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F
from django.utils.translation import get_language

from gridgov.core.tabular.bulk import (
    Prepared,
    Write,
    allocate_ids,
    copy_text,
    db_now,
    existing,
    is_postgres,
    write_rows,
)
from gridgov.core.tabular.spec import (
    E_DUP_DB,
    E_NUMBER,
    E_REQUIRED,
    FORMULA_START,
    Batch,
    Column,
    ImportSpec,
    check_text,
    choice,
    dates,
    to_int,
)
from gridgov.core.tabular.validators import (
    check_credit_code,
    check_id_numbers,
    check_phone,
    gettext_noop,
    normalise_id,
    normalise_phone,
)
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
from gridgov.territory.models import Building, House, HouseUse
from gridgov.territory.places import LOCATION, Places, require_location, room_key, unit_key

__all__ = ["E_REQUIRED", "FORMULA_START", "SPECS", "HouseSpec", "ResidentSpec", "UnitSpec"]

# --- messages ----------------------------------------------------------------------------------------
E_BEFORE_BIRTH = gettext_noop("The date lies before the birth date")
E_MOVED_OUT_BEFORE = gettext_noop("The move-out date lies before the move-in date")
E_BIRTH_MISMATCH = gettext_noop("The birth date differs from the one in the ID number (%(expected)s)")
E_GENDER_MISMATCH = gettext_noop("The gender differs from the one in the ID number (%(expected)s)")
E_HEAD_EXISTS = gettext_noop("This household already has a head")
E_HEAD_TWICE = gettext_noop("The household already has a head in row %(row)s")

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
RESIDENT_COLUMNS = (
    Column("name", "姓名", ("name",), required=True, max_len=50, text=True, example="张三"),
    Column("gender", "性别", ("gender", "sex"), max_len=8, example="男", note="男/女；空则按身份证号",
           choices=("男", "女")),
    Column("id_number", "公民身份号码", ("id_number", "身份证号", "身份证号码", "身份证"), required=True,
           max_len=32, example="440309199001011235", note="18位，末位可为X；请设为文本格式"),
    Column("birth_date", "出生日期", ("birth_date", "出生年月日"), max_len=20, example="1990-01-01",
           note="可空；填写则须与身份证号一致"),
    Column("phone", "联系电话", ("phone", "手机号", "手机号码", "电话"), max_len=20, example="13800138000"),
    Column("residence_type", "人员类型", ("residence_type", "居住类型"), required=True, max_len=8,
           example="户籍", note="户籍 / 流动 / 租住", choices=("户籍", "流动", "租住")),
    *LOCATION,
    Column("room", "房号", ("room", "门牌号", "房间号"), max_len=10, text=True, example="0301"),
    Column("household_no", "户号", ("household_no", "household"), max_len=32, text=True, example="H0001",
           note="同一房屋内区分不同的户；可空"),
    Column("relation", "与户主关系", ("relation",), max_len=8, example="户主",
           note="户主/配偶/子女/父母/孙子女/其他",
           choices=("户主", "配偶", "子女", "父母", "孙子女", "其他")),
    Column("moved_in", "迁入日期", ("moved_in", "入住日期"), max_len=20, example="2020-05-01"),
    Column("moved_out", "迁出日期", ("moved_out",), max_len=20, example=""),
)  # fmt: skip

HOUSE_COLUMNS = (
    *LOCATION,
    Column("floor", "楼层", ("floor",), max_len=4, example="3", note="空则按房号推算"),
    Column("room", "房号", ("room", "门牌号"), required=True, max_len=10, text=True, example="0301"),
    Column("use", "用途", ("use", "房屋用途"), max_len=8, example="出租", note="自住/出租/商用/空置",
           choices=("自住", "出租", "商用", "空置")),
    Column("households", "户数", ("households",), max_len=3, example="1"),
)  # fmt: skip

UNIT_COLUMNS = (
    Column("name", "单位名称", ("name", "名称"), required=True, max_len=100, text=True, example="深圳某某科技有限公司"),
    Column("credit_code", "统一社会信用代码", ("credit_code", "信用代码"), max_len=32,
           example="91440300MA5DC6QX9X", note="18位，可空"),
    Column("kind", "单位类型", ("kind", "类型"), max_len=8, example="企业", note="企业/商铺/机构",
           choices=("企业", "商铺", "机构")),
    *LOCATION,
    Column("room", "房号", ("room", "门牌号"), max_len=10, text=True, example=""),
    Column("contact_name", "联系人", ("contact_name", "联系人姓名"), max_len=50, text=True, example="李四"),
    Column("phone", "联系电话", ("phone", "电话"), max_len=20, example="13900139000"),
    Column("employees", "从业人数", ("employees", "员工人数"), max_len=8, example="12"),
)  # fmt: skip


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
class Spec(ImportSpec):
    """A registry import: rows at an address (the runner's context is the job's `Places`)."""

    kind: str

    def __init__(self, *, places: Places | None = None, **kwargs):
        super().__init__(**kwargs)
        self.places: Places = places if places is not None else self.context

    @classmethod
    def map_header(cls, header: list[str]) -> dict[str, int]:
        # The error workbook's own columns (row number, reasons) are skipped: a corrected error workbook
        # is uploaded again as it is.
        header = ["" if (name or "").strip() in ERROR_WORKBOOK_COLUMNS else name for name in header]
        return require_location(super().map_header(header))

    @classmethod
    def column_label(cls, key: str) -> str:
        """A column as people see it: the template's heading (Chinese), in English with the heading the
        file carries in brackets; the key itself only for a column the spec does not know."""
        column = next((c for c in cls.columns if c.key == key), None)
        if column is None:
            return key
        if (get_language() or "zh-hans").startswith("zh"):
            return column.header
        english = COLUMN_NAMES_EN.get(key)
        return f"{english} ({column.header})" if english else column.header


# The row-number and reasons columns the error workbook adds (core.tabular.workbook), in both languages.
ERROR_WORKBOOK_COLUMNS = frozenset({"Row", "Reasons", "行号", "错误原因"})

# English names of the template's columns (the template's headings are Chinese: 楼栋编码, 出生日期 …).
COLUMN_NAMES_EN = {
    "name": "Name", "gender": "Gender", "id_number": "ID number", "birth_date": "Date of birth",
    "phone": "Phone", "residence_type": "Residence type", "building_code": "Building code",
    "address": "Address", "unit": "Unit", "room": "Room", "floor": "Floor", "household_no": "Household no.",
    "relation": "Relation to the head", "moved_in": "Moved in", "moved_out": "Moved out", "use": "Use",
    "households": "Households", "credit_code": "Credit code", "kind": "Kind", "contact_name": "Contact",
    "employees": "Employees",
}  # fmt: skip


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


@dataclass
class ResidentPrepared(Prepared):
    moves_out: list[int] = field(default_factory=list)  # residents registered elsewhere: they moved


def current_residents(hashes: list[str]) -> dict[str, tuple[int, str]]:
    """The current (not moved-out) residents with these ID-number hashes: hash → (id, grid path)."""
    found: dict[str, tuple[int, str]] = {}
    values = [h for h in set(hashes) if h]
    for start in range(0, len(values), 5000):
        rows = Resident.objects.filter(id_hash__in=values[start : start + 5000], moved_out__isnull=True)
        for h, pk, path in rows.values_list("id_hash", "pk", "building__grid__path"):
            found[h] = (pk, path)
    return found


class ResidentSpec(Spec):
    kind = ImportKind.RESIDENTS
    columns = RESIDENT_COLUMNS
    required = ("name", "id_number", "residence_type")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.heads: dict[tuple[int, str], int] = {}
        self._created: dict[tuple[int, str], tuple[int, int | None]] = {}  # households this job made
        self._households: dict = {}
        self._elsewhere: dict[str, int] = {}  # id hash → the current resident registered elsewhere
        self.sealer = vault.BatchSealer()

    def _log_registration(self, found: list[int], outcomes: dict[str, int]) -> None:
        """Every batch's ID numbers checked against the register, on the personal-information access log."""
        from gridgov.accounts.models import User
        from gridgov.registry.models import PiiAction
        from gridgov.registry.pii import log_access

        user = User.objects.filter(pk=self.user_id).first() if self.user_id else None
        log_access(
            user, PiiAction.REGISTER, object_type="resident", ids=found, count=sum(outcomes.values()),
            fields=["id_number"], detail={"via": "import", "job": self.job_id, **outcomes},
        )  # fmt: skip

    def _ids(self, batch: Batch) -> list[str]:
        return [normalise_id(v) for v in batch.raw["id_number"]]

    def remember(self, batch: Batch) -> None:
        for i, v in enumerate(self._ids(batch)):
            if v and not batch.blank[i]:
                self.seen.setdefault(v, batch.numbers[i])

    def validate(self, batch: Batch) -> list[ResidentRecord]:
        n = len(batch.numbers)
        check_text(batch, self.columns)
        ids = self._ids(batch)
        for i, fault in enumerate(check_id_numbers(ids, today=self.today)):
            if fault and ids[i] and not batch.blank[i]:
                batch.fail(i, "id_number", fault)
        phones = _check_phones(batch)
        rtypes = choice(batch, "residence_type", RESIDENCE_TYPES, "户籍、流动、租住")
        genders = choice(batch, "gender", GENDERS, "男、女")
        relations = choice(batch, "relation", RELATIONS, "户主、配偶、子女、父母、孙子女、其他")
        births = dates(batch, "birth_date", self.today)
        moved_in = dates(batch, "moved_in", self.today)
        moved_out = dates(batch, "moved_out", self.today)
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
            if self.dedup(batch, i, "id_number", v):
                valid_ids.append(i)
        hashes = [""] * n
        for i, h in zip(valid_ids, self.sealer.hashes([ids[i] for i in valid_ids]), strict=True):
            hashes[i] = h
        # Registered already: a duplicate only inside the importer's own area; a number registered as
        # current elsewhere is a person who moved, imported like a new one (see services.check_registration).
        taken = current_residents([hashes[i] for i in valid_ids])
        visible = self.places.visible
        outcomes = {"new": 0, "in_scope": 0, "elsewhere": 0}
        for i in valid_ids:
            hit = taken.get(hashes[i])
            if hit is None:
                outcomes["new"] += 1
            elif visible is None or visible(hit[1]):
                outcomes["in_scope"] += 1
                batch.fail(i, "id_number", E_DUP_DB)
            else:
                outcomes["elsewhere"] += 1
                self._elsewhere[hashes[i]] = hit[0]
        if valid_ids:
            self._log_registration([hit[0] for hit in taken.values()], outcomes)

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

    def _moves_out(self, records: list[ResidentRecord]) -> list[int]:
        return [self._elsewhere[r.id_hash] for r in records if r.id_hash in self._elsewhere]

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
        return ResidentPrepared(writes, late, len(rows), self._moves_out(records))

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
        if isinstance(prepared, ResidentPrepared) and prepared.moves_out:
            from gridgov.registry.services import move_out_elsewhere

            move_out_elsewhere(prepared.moves_out)  # before the insert: one current record per person
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
    required = ("room",)

    def _key(self, bid: int, unit: str, room: str) -> str:
        return f"{bid}|{unit_key(unit)}|{room_key(room)}"

    def remember(self, batch: Batch) -> None:
        bids, _, _, unit_rooms = self.places.resolve(batch, need_room=None)
        for i, bid in enumerate(bids):
            if bid is not None and unit_rooms[i][1]:
                self.seen.setdefault(self._key(bid, *unit_rooms[i]), batch.numbers[i])

    def validate(self, batch: Batch) -> list[tuple]:
        n = len(batch.numbers)
        check_text(batch, self.columns)
        uses = choice(batch, "use", HOUSE_USES, "自住、出租、商用、空置", default=HouseUse.OWNER_OCCUPIED)
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
            floor = to_int(floors[i]) if floors[i] else _floor_of(room)
            if floor is None or not -5 <= floor <= 200:
                batch.fail(i, "floor", E_NUMBER, min=-5, max=200)
            households = to_int(counts[i]) if counts[i] else (0 if uses[i] in ("vacant", "commercial") else 1)
            if households is None or not 0 <= households <= 20:
                batch.fail(i, "households", E_NUMBER, min=0, max=20)
            if house_ids[i] is not None:
                batch.fail(i, "room", E_DUP_DB)
            if batch.ok(i, "room"):
                self.dedup(batch, i, "room", self._key(bids[i], unit, room))
            if not batch.bad[i]:
                records.append((bids[i], unit_key(unit), floor, room, uses[i], households))
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


def _floor_of(room: str) -> int | None:
    digits = room_key(room)
    return int(digits[:-2]) if digits.isdigit() and len(digits) >= 3 else 1


class UnitSpec(Spec):
    kind = ImportKind.UNITS
    columns = UNIT_COLUMNS
    required = ("name",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sealer = vault.BatchSealer()

    def remember(self, batch: Batch) -> None:
        for i, v in enumerate(batch.text.get("credit_code") or []):
            if v:
                self.seen.setdefault(v.upper(), batch.numbers[i])

    def validate(self, batch: Batch) -> list[tuple]:
        n = len(batch.numbers)
        check_text(batch, self.columns)
        kinds = choice(batch, "kind", UNIT_KINDS, "企业、商铺、机构", default=UnitKind.COMPANY)
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
                elif self.dedup(batch, i, "credit_code", codes[i]):
                    checked.append(i)
            count = to_int(employees[i]) if employees[i] else 0
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
