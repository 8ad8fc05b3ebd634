"""Resident import with full validation on PostgreSQL, against a plain COPY of the same rows and
against django-import-export.

    uv run python bench/import.py [--rows 1000000] [--demo district|small] [--die-rows 20000]
                                  [--database-url URL] [--keep] [--skip-xlsx]

Setup: the database of --database-url (default $DATABASE_URL) is used, and created when missing;
without either, a fresh database `gridgov_bench_import_<pid>_<time>` is created on
postgres://postgres@127.0.0.1:5432 and dropped at the end unless --keep. GRIDGOV_DATA_DIR is a
temporary directory. The script migrates and generates the demo district (--demo, default
`district`: ≈113,000 houses, with the demo's own ≈230,000 residents) without case history.

Rows: --rows resident rows (default 1,000,000) with unique, valid 18-digit ID numbers (area codes
disjoint from the demo's), birth dates, phones, residence types, building codes, unit and room of a
demo house, a household number (≈2.5 people a household, one head each) and a move-in date, written
once as CSV (UTF-8) and once as XLSX.

Timed:
  ours (CSV), ours (XLSX)  gridgov's import job (`registry.jobs.run`, mode valid_rows): read the file,
            validate every row (ID checksum per GB 11643 and its birth date, phone, residence type,
            gender, dates, building and house, duplicates in the file and in the database through the
            keyed hashes, one head per household), encrypt ID numbers and phones (AES-256-GCM), hash
            them (HMAC-SHA256), write households and residents with COPY in committed batches with
            the resume cursor. The upload's encryption at rest is timed apart ("upload").
  COPY      the same final rows (the residents and households the CSV import wrote, dumped with COPY
            TO and deleted first) written back with COPY FROM into the same tables, same indexes and
            constraints, in one transaction: the bare cost of the writes.
  COPY raw  the CSV file itself copied into an unindexed table of text columns (no parsing in
            Python, no encryption, no lookups): a floor for comparison only.
  django-import-export  a ModelResource over the same Resident model (building by code through a
            ForeignKeyWidget; ID number and phone encrypted and hashed in before_import_row, as the
            model needs them) importing the first --die-rows rows from a tablib Dataset of the CSV
            with its default settings (per-row save, one transaction).
Each import's rows are deleted before the next run, so every run starts from the same database.

Checked: every run inserted all rows with no error rows, and the COPY run wrote the same count.

Prints a table, then one JSON line:
  {"bench": "import", "rows": N, "csv_rows_per_s": …, "xlsx_rows_per_s": …, "copy_rows_per_s": …,
   "copy_raw_rows_per_s": …, "die_rows_per_s": …, "ratio_copy": …, "ratio_die": …, "checks_ok": true}
ratio_copy = ours (CSV) ÷ COPY; ratio_die = ours (CSV) ÷ django-import-export. Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from scratchdb import Database, database_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

HEADER = ["姓名", "性别", "公民身份号码", "出生日期", "联系电话", "人员类型", "楼栋编码", "单元", "房号", "户号",
          "与户主关系", "迁入日期"]  # fmt: skip
# Area codes of the generated ID numbers: none of them is used by the demo (Shenzhen, other provinces).
AREAS = ("110101", "110105", "120101", "130102", "140105", "150102", "210102", "220102", "230102", "310101",
         "320102", "330102", "340102", "370102", "460105", "530102", "540102", "610102", "620102", "640104")  # fmt: skip
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国文博宇浩然子涵欣怡梓萱俊杰"
RTYPES = ("户籍", "户籍", "流动", "租住", "租住")


# --- rows -------------------------------------------------------------------------------------------------
def make_rows(n: int, houses: list[tuple[str, str, str]], seed: int) -> list[list[str]]:
    """n resident rows with unique valid ID numbers; ≈2.5 people a household, the first one its head."""
    from gridgov.core.tabular.validators import make_id_number

    rng = random.Random(seed)
    base = dt.date(1940, 1, 1)
    days = (dt.date(2020, 12, 31) - base).days
    rows: list[list[str]] = []
    i = 0
    household = 0
    while i < n:
        household += 1
        code, unit, room = houses[household % len(houses)]
        size = min(n - i, rng.choice((1, 2, 2, 3, 3, 4)))
        for k in range(size):
            # Unique by construction: area = i mod 20, then the day, then the sequence number.
            area = AREAS[i % len(AREAS)]
            j = i // len(AREAS)
            birth = base + dt.timedelta(days=(j * 7919) % days)
            gender = "M" if rng.random() < 0.5 else "F"
            id_number = make_id_number(area, birth, 2 * (j // days) + (1 if gender == "M" else 0), gender)
            name = (
                rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
            )
            moved_in = max(birth, dt.date(2015, 1, 1)) + dt.timedelta(days=rng.randrange(3000))
            moved_in = min(moved_in, dt.date(2025, 12, 31))
            rows.append(
                [
                    name, "男" if gender == "M" else "女", id_number, birth.isoformat(),
                    f"1{rng.choice('3589')}{rng.randrange(10**9):09d}", rng.choice(RTYPES), code, unit, room,
                    f"B{household}", "户主" if k == 0 else rng.choice(("配偶", "子女", "子女", "父母")),
                    moved_in.isoformat(),
                ]
            )  # fmt: skip
            i += 1
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet("residents")
    ws.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row):
            ws.write_string(r, c, value)
    wb.close()


# --- runs ------------------------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    rows: int
    seconds: float
    inserted: int
    errors: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("nan")


def ours(path: Path, name: str) -> tuple[Run, float, int]:
    from gridgov.registry import jobs, services

    t = time.perf_counter()
    with open(path, "rb") as f:
        job = services.create_import_job(
            actor=None, stream=f, file_name=name, size=path.stat().st_size, enqueue=False
        )
    upload = time.perf_counter() - t
    t = time.perf_counter()
    job = jobs.run(job.pk)
    seconds = time.perf_counter() - t
    status = job.status if job.status == "done" else f"{job.status} {job.file_error}"
    return Run(f"ours ({name.rsplit('.', 1)[1].upper()})", job.total or 0, seconds, job.inserted, job.error_rows,
               status), upload, job.pk  # fmt: skip


def remove_job_rows(url: str, job_id: int) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE registry_household SET head_id = NULL WHERE import_job_id = %s", [job_id])
        conn.execute("DELETE FROM registry_resident WHERE import_job_id = %s", [job_id])
        conn.execute("DELETE FROM registry_household WHERE import_job_id = %s", [job_id])
        conn.execute("DELETE FROM registry_importrowerror WHERE job_id = %s", [job_id])
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE registry_resident")
        conn.execute("VACUUM ANALYZE registry_household")


def copy_same_rows(url: str, job_id: int) -> Run:
    """Dump what the import wrote, delete it, COPY it back in: the bare cost of the same writes."""
    tables = ("registry_household", "registry_resident")
    dumps: dict[str, bytes] = {}
    with psycopg.connect(url) as conn:
        for table in tables:
            buffer = io.BytesIO()
            query = sql.SQL("COPY (SELECT * FROM {} WHERE import_job_id = %s ORDER BY id) TO STDOUT").format(
                sql.Identifier(table)
            )
            with conn.cursor() as cur, cur.copy(query, [job_id]) as copy:
                for chunk in copy:
                    buffer.write(chunk)
            dumps[table] = buffer.getvalue()
        count = conn.execute(
            "SELECT count(*) FROM registry_resident WHERE import_job_id = %s", [job_id]
        ).fetchone()[0]
    remove_job_rows(url, job_id)
    with psycopg.connect(url) as conn:
        t = time.perf_counter()
        with conn.transaction():
            for table in tables:
                with (
                    conn.cursor() as cur,
                    cur.copy(sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))) as cp,
                ):
                    data = dumps[table]
                    for start in range(0, len(data), 1 << 20):
                        cp.write(data[start : start + (1 << 20)])
        seconds = time.perf_counter() - t
        copied = conn.execute(
            "SELECT count(*) FROM registry_resident WHERE import_job_id = %s", [job_id]
        ).fetchone()[0]
    remove_job_rows(url, job_id)
    return Run("COPY (same rows, same tables)", count, seconds, copied, 0)


def copy_raw(url: str, path: Path) -> Run:
    cols = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(f"c{i}")) for i in range(len(HEADER)))
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS bench_raw_residents; CREATE TABLE bench_raw_residents ({})").format(
                cols
            )
        )
        conn.commit()
        t = time.perf_counter()
        with conn.transaction():
            with (
                conn.cursor() as cur,
                cur.copy("COPY bench_raw_residents FROM STDIN WITH (FORMAT csv, HEADER true)") as cp,
            ):
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 20):
                        cp.write(chunk)
        seconds = time.perf_counter() - t
        count = conn.execute("SELECT count(*) FROM bench_raw_residents").fetchone()[0]
        conn.execute("DROP TABLE bench_raw_residents")
    return Run("COPY raw CSV (text table, no indexes)", count, seconds, count, 0)


def django_import_export(path: Path, n: int) -> Run:
    import tablib
    from import_export import fields, resources, widgets

    from gridgov.registry import vault
    from gridgov.registry.models import Resident
    from gridgov.territory.models import Building

    rtypes = {"户籍": "registered", "流动": "floating", "租住": "tenant"}

    class BytesWidget(widgets.Widget):
        """Ciphertext in and out (the import's diff renders every field as text)."""

        def clean(self, value, row=None, **kwargs):
            return value

        def render(self, value, obj=None, **kwargs):
            return bytes(value).hex() if value else ""

    class ResidentResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        building = fields.Field(attribute="building", column_name="楼栋编码",
                                widget=widgets.ForeignKeyWidget(Building, field="code"))  # fmt: skip
        birth_date = fields.Field(
            attribute="birth_date", column_name="出生日期", widget=widgets.DateWidget("%Y-%m-%d")
        )
        moved_in = fields.Field(
            attribute="moved_in", column_name="迁入日期", widget=widgets.DateWidget("%Y-%m-%d")
        )
        residence_type = fields.Field(attribute="residence_type", column_name="rtype")
        gender = fields.Field(attribute="gender", column_name="gender")
        id_enc = fields.Field(attribute="id_enc", column_name="id_enc", widget=BytesWidget())
        id_hash = fields.Field(attribute="id_hash", column_name="id_hash")
        phone_enc = fields.Field(attribute="phone_enc", column_name="phone_enc", widget=BytesWidget())
        phone_hash = fields.Field(attribute="phone_hash", column_name="phone_hash")
        pii_key = fields.Field(attribute="pii_key", column_name="pii_key")
        source = fields.Field(attribute="source", column_name="source")

        class Meta:
            model = Resident
            import_id_fields = ()
            fields = ("name", "building", "birth_date", "moved_in", "residence_type", "gender", "id_enc", "id_hash",
                      "phone_enc", "phone_hash", "pii_key", "source")  # fmt: skip

        def before_import_row(self, row, **kwargs):
            number, phone = row["公民身份号码"], row["联系电话"]
            row["id_enc"], row["pii_key"] = vault.encrypt(number, "id_number")
            row["id_hash"] = vault.blind_index(number)
            row["phone_enc"] = vault.encrypt(phone, "phone")[0]
            row["phone_hash"] = vault.blind_index(phone)
            row["rtype"] = rtypes[row["人员类型"]]
            row["gender"] = "M" if row["性别"] == "男" else "F"
            row["source"] = "import"

        def get_instance(self, instance_loader, row):
            return None

    with open(path, encoding="utf-8") as f:
        head = [next(f) for _ in range(n + 1)]
    dataset = tablib.Dataset().load("".join(head), format="csv")
    for column in ("id_enc", "id_hash", "phone_enc", "phone_hash", "pii_key", "rtype", "gender", "source"):
        dataset.append_col([""] * len(dataset), header=column)
    before = Resident.objects.count()
    t = time.perf_counter()
    result = ResidentResource().import_data(dataset, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - t
    inserted = Resident.objects.count() - before
    errors = len(result.row_errors()) + len(result.base_errors)
    if errors and os.environ.get("BENCH_DEBUG"):
        for _line, errs in result.row_errors()[:1]:
            print(errs[0].error, errs[0].traceback[-800:], file=sys.stderr)
    Resident.objects.filter(source="import", import_job__isnull=True).delete()
    return Run(
        f"django-import-export {import_export_version()} (first {n:,})",
        len(dataset),
        seconds,
        inserted,
        errors,
    )


def import_export_version() -> str:
    import import_export

    return import_export.__version__


# --- main ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--demo", choices=("district", "small"), default="district")
    parser.add_argument("--die-rows", type=int, default=20_000, help="rows for django-import-export")
    parser.add_argument("--database-url", help="default $DATABASE_URL, else a fresh database")
    parser.add_argument("--keep", action="store_true", help="keep a database the script created")
    parser.add_argument("--skip-xlsx", action="store_true")
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be positive")

    url, fresh = database_url(args.database_url, "gridgov_bench_import")
    db = Database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="gridgov-bench-import-"))
    os.environ["DATABASE_URL"] = url
    os.environ["GRIDGOV_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    runs: list[Run] = []
    uploads: dict[str, float] = {}
    timings: dict[str, float] = {}
    try:
        db.ensure()
        print(f"bench/import.py — database {db.name} ({'created' if db.created else 'existing'}); "
              f"migrating and generating the {args.demo} demo …", flush=True)  # fmt: skip
        import django

        django.setup()
        from django.core.management import call_command

        from gridgov.demo.services import generate
        from gridgov.territory.models import House

        call_command("migrate", interactive=False, verbosity=0)
        t = time.perf_counter()
        generate(args.demo, history_days=0, log=lambda *a, **k: None)
        timings["demo"] = time.perf_counter() - t
        houses = list(
            House.objects.filter(households__gt=0)
            .order_by("id")
            .values_list("building__code", "unit", "room")
        )
        t = time.perf_counter()
        rows = make_rows(args.rows, houses, args.seed)
        csv_path, xlsx_path = data_dir / "residents.csv", data_dir / "residents.xlsx"
        write_csv(csv_path, rows)
        if not args.skip_xlsx:
            write_xlsx(xlsx_path, rows)
        del rows
        timings["files"] = time.perf_counter() - t
        print(f"{args.rows:,} rows over {len(houses):,} houses; files written in {timings['files']:.1f} s "
              f"(CSV {csv_path.stat().st_size / 2**20:.0f} MiB"
              + ("" if args.skip_xlsx else f", XLSX {xlsx_path.stat().st_size / 2**20:.0f} MiB") + ")", flush=True)  # fmt: skip

        print("ours: CSV …", flush=True)
        run, uploads["CSV"], csv_job = ours(csv_path, "residents.csv")
        runs.append(run)
        print(f"  {run.rate:,.0f} rows/s; COPY of the same rows …", flush=True)
        runs.append(copy_same_rows(url, csv_job))
        runs.append(copy_raw(url, csv_path))
        if not args.skip_xlsx:
            print("ours: XLSX …", flush=True)
            run, uploads["XLSX"], xlsx_job = ours(xlsx_path, "residents.xlsx")
            runs.append(run)
            remove_job_rows(url, xlsx_job)
        print(f"django-import-export: first {min(args.die_rows, args.rows):,} rows …", flush=True)
        runs.append(django_import_export(csv_path, min(args.die_rows, args.rows)))
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if db.created and not args.keep:
            try:
                db.drop()
            except psycopg.Error as exc:
                print(f"could not drop {db.name}: {exc}", file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)

    csv_run = next(r for r in runs if r.name == "ours (CSV)")
    xlsx_run = next((r for r in runs if r.name == "ours (XLSX)"), None)
    copy_run = next(r for r in runs if r.name.startswith("COPY (same"))
    raw_run = next(r for r in runs if r.name.startswith("COPY raw"))
    die_run = next(r for r in runs if r.name.startswith("django-import-export"))
    checks_ok = (
        all(r.inserted == r.rows and r.errors == 0 for r in runs) and copy_run.rows == csv_run.inserted
    )

    width = max(len(r.name) for r in runs)
    print(f"bench/import.py — {args.rows:,} resident rows, full validation, PostgreSQL {db.name}"
          + (" (fresh)" if fresh else ""))  # fmt: skip
    print(f"  {'run':<{width}}  {'rows':>10}  {'seconds':>8}  {'rows/s':>10}  {'inserted':>10}  errors")
    for r in runs:
        print(f"  {r.name:<{width}}  {r.rows:>10,}  {r.seconds:>8.2f}  {r.rate:>10,.0f}  {r.inserted:>10,}  {r.errors}"
              + (f"  {r.note}" if r.note and r.note != "done" else ""))  # fmt: skip
    ratio_copy = csv_run.rate / copy_run.rate
    ratio_raw = csv_run.rate / raw_run.rate
    ratio_die = csv_run.rate / die_run.rate
    print("  upload (encrypt the file at rest): " + ", ".join(f"{k} {v:.2f} s" for k, v in uploads.items()))
    print(f"  demo {args.demo}: {timings['demo']:.1f} s; writing the files: {timings['files']:.1f} s")
    print(
        f"  ratio ours (CSV) ÷ COPY same rows: {ratio_copy:.2f}× (goal ≥ 0.3×); ÷ COPY raw CSV: {ratio_raw:.2f}×"
    )
    print(f"  ratio ours (CSV) ÷ django-import-export: {ratio_die:.1f}× (goal ≥ 20×)")
    if xlsx_run:
        print(f"  XLSX ÷ COPY same rows: {xlsx_run.rate / copy_run.rate:.2f}×; ÷ django-import-export: "
              f"{xlsx_run.rate / die_run.rate:.1f}×")  # fmt: skip
    if not checks_ok:
        print("!! CHECKS FAILED: a run did not insert every row, or reported errors", file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "import",
                "rows": args.rows,
                "csv_rows_per_s": round(csv_run.rate, 1),
                "xlsx_rows_per_s": round(xlsx_run.rate, 1) if xlsx_run else None,
                "copy_rows_per_s": round(copy_run.rate, 1),
                "copy_raw_rows_per_s": round(raw_run.rate, 1),
                "die_rows_per_s": round(die_run.rate, 1),
                "ratio_copy": round(ratio_copy, 3),
                "ratio_copy_raw": round(ratio_raw, 3),
                "ratio_die": round(ratio_die, 1),
                "checks_ok": checks_ok,
            }
        )
    )
    return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
