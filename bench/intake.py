"""Case intake under load: concurrent HTTP clients reporting cases through the real server on PostgreSQL,
against plain psycopg inserting the same rows into the same tables.

    uv run python bench/intake.py [--seconds 60] [--clients 16] [--workers N] [--threads N]
                                  [--database-url URL] [--keep]

Setup: the database of --database-url (default $DATABASE_URL) is used, and created when missing;
without either, a fresh database `gridgov_bench_<pid>_<time>` is created on
postgres://postgres@127.0.0.1:5432. A database the script created is dropped at the end unless
--keep. GRIDGOV_DATA_DIR is a temporary directory. The script migrates, generates the small demo
district (an existing demo is kept) and creates an API token for every demo grid worker (channel
`patrol`, reporting in their own grid) and every demo resident (channel `resident_app`, reporting
in their own community). Then it starts the real server, `gridgov serve --port <free port>`
(gunicorn gthread and the Huey consumer, as in production), and waits for /api/v1/health.

HTTP run: --clients threads, each with one keep-alive `http.client` connection, POST
/api/v1/cases/cases (the intake) with pre-built JSON bodies (a Chinese description, the point of a demo building in
WGS-84, a category for patrol reports), `Authorization: Bearer …` and a unique Idempotency-Key per
request. --warmup seconds (default 5) first, not counted; then --seconds timed. Requests that
complete inside the timed window count: cases/s = 201 responses / seconds, p50/p99 of their latency.
Any other answer (or a broken connection) is an error.

Checked after the run: cases in the database with this run's keys = 201 responses; each case lies
in the grid of the building its point came from; re-sending a sample of requests with their keys
answers 200 and creates nothing.

Baseline (the server stopped first): the same rows, i.e. every case the HTTP run created, copied
column by column (new number and key, current timestamps) together with its timeline row, inserted
by as many threads as there were clients, each with its own plain psycopg connection, one
transaction per case with the statements the service issues: INSERT the case RETURNING id, UPDATE
its number (GG<date>-<id>), INSERT the head of the case's timeline chain, INSERT the "submit" timeline
event (with the HTTP row's chain fields), COMMIT. Nothing is looked up, validated or hashed.
ratio = psycopg cases/s ÷ HTTP cases/s: what Django, auth, validation, locating the grid, hashing
and the response cost per case over the bare writes.

Prints a table, then one JSON line:
  {"bench": "intake", "seconds": 60, "clients": 16, "http_cases_per_s": …, "p50_ms": …, "p99_ms": …,
   "psycopg_cases_per_s": …, "ratio": …, "errors": 0, …}
The exit code is 1 when there was any error or a check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from scratchdb import Database, database_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

INTAKE_PATH = "/api/v1/cases/cases"  # the cases router is mounted at /api/v1/cases
BODIES_PER_USER = 24
REPLAY_SAMPLE = 50

PROBLEMS = [
    "楼道堆放大量杂物和纸箱，堵塞消防通道，存在火灾隐患。",
    "小区门口路灯不亮已经一周，晚上出行很不安全。",
    "楼下餐馆油烟直排，气味很大，影响居民开窗通风。",
    "路面井盖破损下沉，电动车经过容易摔倒。",
    "垃圾收集点满溢没人清运，天热有异味招苍蝇。",
    "电动车在楼道内充电，电线私拉乱接。",
    "出租屋住了很多人，疑似群租，请核查。",
    "深夜施工噪音扰民，已经连续三天。",
    "下水道堵塞，雨天积水到小腿，商户进出困难。",
    "人行道被车辆长期占用，行人只能走机动车道。",
    "外墙瓷砖松动脱落，楼下有行人经过，很危险。",
    "绿化带里的树枝断裂悬挂，随时可能掉落。",
]
DETAILS = ["请尽快处理。", "麻烦社区协调一下。", "已多次反映，希望跟进。", "附近老人小孩多。", ""]


# --- setup: demo, tokens, request bodies ----------------------------------------------------------------
@dataclass
class Body:
    auth: str  # "Bearer gg_…"
    payload: bytes
    grid_id: int  # the grid the building lies in: where the case must be located
    channel: str


@dataclass
class Setup:
    bodies: list[Body]
    grid_workers: int
    residents: int
    grids: int
    buildings: int
    demo: str


def prepare(seed: int) -> Setup:
    """Migrate, generate the small demo (kept when there), create tokens, build request bodies."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    from gridgov.accounts.models import Membership
    from gridgov.accounts.roles import Role
    from gridgov.accounts.services import create_token
    from gridgov.cases.models import Category
    from gridgov.demo.services import generate
    from gridgov.territory.models import Area, Building

    call_command("migrate", interactive=False, verbosity=0)
    result = generate("small", log=lambda *a, **k: None)
    rng = random.Random(seed)
    categories = list(
        Category.objects.filter(parent__isnull=False, is_active=True).values_list("code", flat=True)
    )

    def bodies_for(user, channel: str, buildings: list[Building]) -> list[Body]:
        _, secret = create_token(None, user=user, name="bench-intake")
        out = []
        for _ in range(BODIES_PER_USER):
            b = rng.choice(buildings)
            payload = {
                "description": f"{b.address}：{rng.choice(PROBLEMS)}{rng.choice(DETAILS)}",
                "kind": rng.choice(["demand", "demand", "hazard"]),
                "channel": channel,
                "lng": b.lng,
                "lat": b.lat,
                "crs": "wgs84",
                "address": b.address,
            }
            if channel == "patrol" and categories:
                payload["category_code"] = rng.choice(categories)
            out.append(
                Body(
                    f"Bearer {secret}",
                    json.dumps(payload, ensure_ascii=False).encode(),
                    b.grid_id,
                    channel,
                )
            )
        return out

    bodies: list[Body] = []
    grid_ids: set[int] = set()
    n_workers = n_residents = 0
    by_grid: dict[int, list[Building]] = {}
    for b in Building.objects.filter(grid__is_active=True).order_by("id"):
        by_grid.setdefault(b.grid_id, []).append(b)
    workers = Membership.objects.filter(role=Role.GRID_WORKER, area_id__in=list(by_grid))
    for m in workers.select_related("user").order_by("user__username"):
        bodies += bodies_for(m.user, "patrol", by_grid[m.area_id])
        grid_ids.add(m.area_id)
        n_workers += 1
    residents = Membership.objects.filter(role=Role.RESIDENT, user__username__startswith=f"{Role.RESIDENT}-")
    for m in residents.select_related("user").order_by("user__username"):
        community = Area.objects.filter(code=m.user.username.split("-")[1]).first()
        if community is None:
            continue
        grids = Area.objects.filter(path__startswith=community.path, id__in=list(by_grid))
        buildings = [b for g in grids.values_list("id", flat=True) for b in by_grid[g]]
        if buildings:
            bodies += bodies_for(m.user, "resident_app", buildings)
            n_residents += 1
    connections.close_all()
    if not bodies:
        raise SystemExit("No demo grid workers or residents with buildings to report from.")
    rng.shuffle(bodies)
    return Setup(
        bodies,
        n_workers,
        n_residents,
        len(grid_ids),
        sum(len(v) for v in by_grid.values()),
        result.scale,
    )


# --- the server ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, workers: int | None, threads: int | None, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gridgov.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if workers:
        cmd += ["--workers", str(workers)]
    if threads:
        cmd += ["--threads", str(threads)]
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True
        )


def wait_healthy(proc: subprocess.Popen, port: int, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}:\n{tail(log)}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            if resp.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"the server did not answer /api/v1/health within {timeout:.0f} s:\n{tail(log)}")


def stop_server(proc: subprocess.Popen | None) -> None:
    """SIGTERM to the server's process group (gunicorn, its workers, the Huey consumer), then SIGKILL."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # The master is gone; make sure nothing of its group is left behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        return


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- CPU accounting (Linux /proc): where the machine's time went during the timed window -----------------
def cpu_snapshot(server_pgid: int | None) -> dict[str, float] | None:
    try:
        tick = os.sysconf("SC_CLK_TCK")
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        snap = {"total": sum(v[:8]) / tick, "idle": (v[3] + v[4]) / tick}
        groups = {"server": 0.0, "postgres": 0.0, "client": 0.0}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as f:
                    raw = f.read()
            except OSError:
                continue
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw[raw.rindex(")") + 2 :].split()
            # utime + stime + the times of exited children it waited for (a postgres backend that
            # ends in the window is added to the postmaster's).
            used = sum(int(x) for x in rest[11:15]) / tick
            if int(entry.name) == os.getpid():
                groups["client"] += used
            elif server_pgid is not None and int(rest[2]) == server_pgid:
                groups["server"] += used
            elif comm.startswith("postgres"):
                groups["postgres"] += used
        snap.update(groups)
        return snap
    except (OSError, ValueError, IndexError):
        return None


def cpu_cores(before, after, seconds: float) -> dict[str, float] | None:
    if before is None or after is None or seconds <= 0:
        return None
    d = {k: (after[k] - before[k]) / seconds for k in before}
    busy = d["total"] - d["idle"]
    return {
        "server": d["server"],
        "postgres": d["postgres"],
        "client": d["client"],
        "other": max(0.0, busy - d["server"] - d["postgres"] - d["client"]),
        "idle": d["idle"],
    }


# --- the HTTP run ---------------------------------------------------------------------------------------
@dataclass
class ClientLog:
    done: list[float] = field(default_factory=list)  # perf_counter when the answer was read
    latency: list[float] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    body: list[int] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # the first few error answers


def post(conn: http.client.HTTPConnection, body: Body, key: str) -> tuple[int, bytes]:
    conn.request(
        "POST",
        INTAKE_PATH,
        body=body.payload,
        headers={
            "Authorization": body.auth,
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    resp = conn.getresponse()
    return resp.status, resp.read()


def client(
    idx: int, port: int, bodies: list[Body], prefix: str, start: threading.Event, stop_at: list[float]
) -> ClientLog:
    log = ClientLog()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    n = len(bodies)
    seq = 0
    start.wait()
    while time.perf_counter() < stop_at[0]:
        b = (idx * 7919 + seq) % n
        key = f"{prefix}{idx}-{seq}"
        t = time.perf_counter()
        try:
            status, data = post(conn, bodies[b], key)
        except (OSError, http.client.HTTPException) as exc:
            status, data = 0, repr(exc).encode()
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        done = time.perf_counter()
        log.done.append(done)
        log.latency.append(done - t)
        log.status.append(status)
        log.keys.append(key)
        log.body.append(b)
        if status != 201 and len(log.samples) < 3:
            log.samples.append(f"{status} {data[:300].decode(errors='replace')}")
        seq += 1
    conn.close()
    return log


@dataclass
class HttpResult:
    logs: list[ClientLog]
    window: tuple[float, float]
    cpu: dict[str, float] | None
    client_cpu_s: float

    def counted(self) -> np.ndarray:
        """Latencies (s) of the 201 answers completed inside the timed window."""
        t0, t1 = self.window
        out = [
            lat
            for log in self.logs
            for d, lat, s in zip(log.done, log.latency, log.status, strict=True)
            if s == 201 and t0 <= d <= t1
        ]
        return np.asarray(out)

    def status_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for log in self.logs:
            for s in log.status:
                counts[s] = counts.get(s, 0) + 1
        return counts


def run_http(
    port: int,
    bodies: list[Body],
    prefix: str,
    clients: int,
    warmup: float,
    seconds: float,
    server_pgid: int,
) -> HttpResult:
    start = threading.Event()
    stop_at = [float("inf")]
    results: list[ClientLog | None] = [None] * clients

    def run(i: int) -> None:
        results[i] = client(i, port, bodies, prefix, start, stop_at)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    t_begin = time.perf_counter()
    stop_at[0] = t_begin + warmup + seconds
    start.set()
    time.sleep(warmup)
    t0 = time.perf_counter()
    cpu0, proc0 = cpu_snapshot(server_pgid), time.process_time()
    time.sleep(max(0.0, stop_at[0] - time.perf_counter()))
    t1 = time.perf_counter()
    cpu1, proc1 = cpu_snapshot(server_pgid), time.process_time()
    for t in threads:
        t.join()
    logs = [r for r in results if r is not None]
    return HttpResult(logs, (t0, t1), cpu_cores(cpu0, cpu1, t1 - t0), proc1 - proc0)


@dataclass
class Checks:
    db_cases: int
    created: int
    misplaced: int
    unlocated: int
    replayed: int
    replay_ok: int
    db_after_replay: int

    @property
    def ok(self) -> bool:
        return (
            self.db_cases == self.created
            and self.misplaced == 0
            and self.unlocated == 0
            and self.replay_ok == self.replayed
            and self.db_after_replay == self.db_cases
        )


def verify(url: str, port: int, result: HttpResult, bodies: list[Body], prefix: str) -> Checks:
    created = [
        (k, b)
        for log in result.logs
        for k, b, s in zip(log.keys, log.body, log.status, strict=True)
        if s == 201
    ]
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT idempotency_key, grid_id FROM cases_case WHERE idempotency_key LIKE %s", [prefix + "%"]
        ).fetchall()
    grid_of = dict(rows)
    unlocated = sum(1 for _, g in rows if g is None)
    misplaced = sum(1 for k, b in created if grid_of.get(k) not in (None, bodies[b].grid_id))
    misplaced += sum(1 for k, _ in created if k not in grid_of)
    # Idempotency: the same requests again, with their keys, must answer 200 and create nothing.
    sample = random.Random(1).sample(created, min(REPLAY_SAMPLE, len(created)))
    ok = 0
    conn_http = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for key, b in sample:
        try:
            status, _ = post(conn_http, bodies[b], key)
        except (OSError, http.client.HTTPException):
            conn_http.close()
            continue
        ok += status == 200
    conn_http.close()
    with psycopg.connect(url) as conn:
        after = conn.execute(
            "SELECT count(*) FROM cases_case WHERE idempotency_key LIKE %s", [prefix + "%"]
        ).fetchone()[0]
    return Checks(len(rows), len(created), misplaced, unlocated, len(sample), ok, after)


# --- the psycopg baseline -------------------------------------------------------------------------------
def columns(conn: psycopg.Connection, table: str) -> list[tuple[str, bool]]:
    """(column, is_jsonb) of a table in order, without the id."""
    rows = conn.execute(
        "SELECT column_name, data_type = 'jsonb' FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [(c, j) for c, j in rows if c != "id"]


@dataclass
class RawResult:
    inserted: int
    seconds: float
    latency: np.ndarray
    errors: list[str]


def run_psycopg(url: str, prefix: str, raw_prefix: str, clients: int, tz: ZoneInfo) -> RawResult:
    """Insert a copy of every case the HTTP run created (and its timeline row), one transaction each."""
    from gridgov.cases.models import Case, TimelineEvent
    from gridgov.core.models import ChainHead

    case_table, event_table = Case._meta.db_table, TimelineEvent._meta.db_table
    with psycopg.connect(url) as conn:
        case_cols, event_cols = columns(conn, case_table), columns(conn, event_table)
        cases = conn.execute(
            sql.SQL("SELECT id, {} FROM {} WHERE idempotency_key LIKE %s ORDER BY id").format(
                sql.SQL(", ").join(sql.Identifier(c) for c, _ in case_cols), sql.Identifier(case_table)
            ),
            [prefix + "%"],
        ).fetchall()
        events = conn.execute(
            sql.SQL("SELECT case_id, {} FROM {} WHERE case_id = ANY(%s) AND action = 'submit'").format(
                sql.SQL(", ").join(sql.Identifier(c) for c, _ in event_cols), sql.Identifier(event_table)
            ),
            [[c[0] for c in cases]],
        ).fetchall()
    event_of = {e[0]: e[1:] for e in events}

    def wrap(values, cols):
        return [
            Jsonb(v) if is_json and v is not None else v for v, (_, is_json) in zip(values, cols, strict=True)
        ]

    # Pre-built parameters: everything but the number, the key and the timestamps is the HTTP row's.
    work: list[tuple[dict, dict]] = []
    for row in cases:
        if row[0] not in event_of:
            continue
        c = dict(zip([name for name, _ in case_cols], wrap(row[1:], case_cols), strict=True))
        e = dict(zip([name for name, _ in event_cols], wrap(event_of[row[0]], event_cols), strict=True))
        work.append((c, e))

    insert_case = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(case_table),
        sql.SQL(", ").join(sql.Identifier(c) for c, _ in case_cols),
        sql.SQL(", ").join(sql.Placeholder(c) for c, _ in case_cols),
    )
    set_number = sql.SQL("UPDATE {} SET number = %s WHERE id = %s").format(sql.Identifier(case_table))
    insert_head = sql.SQL(
        "INSERT INTO {} (key, seq, hash, first_seq, first_prev) VALUES (%s, 1, %s, 1, '')"
    ).format(sql.Identifier(ChainHead._meta.db_table))
    insert_event = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(event_table),
        sql.SQL(", ").join(sql.Identifier(c) for c, _ in event_cols),
        sql.SQL(", ").join(sql.Placeholder(c) for c, _ in event_cols),
    )

    parts = [work[i::clients] for i in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    conns = [psycopg.connect(url) for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        conn, lat = conns[i], latencies[i]
        barrier.wait()
        for n, (c, e) in enumerate(parts[i]):
            t = time.perf_counter()
            try:
                with conn.transaction():
                    now = dt.datetime.now(dt.UTC)
                    c = {
                        **c,
                        "number": f"TMP-{uuid.uuid4().hex[:20]}",
                        "idempotency_key": f"{raw_prefix}{i}-{n}",
                        "created_at": now,
                        "updated_at": now,
                    }
                    case_id = conn.execute(insert_case, c).fetchone()[0]
                    conn.execute(set_number, [f"GG{now.astimezone(tz):%Y%m%d}-{case_id:06d}", case_id])
                    conn.execute(insert_head, [TimelineEvent.chain_key_of(case_id), e["hash"]])
                    conn.execute(insert_event, {**e, "case_id": case_id, "at": dt.datetime.now(dt.UTC)})
            except psycopg.Error as exc:
                if len(errors) < 3:
                    errors.append(repr(exc))
                continue
            lat.append(time.perf_counter() - t)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    for conn in conns:
        conn.close()
    with psycopg.connect(url) as conn:
        inserted = conn.execute(
            "SELECT count(*) FROM cases_case WHERE idempotency_key LIKE %s", [raw_prefix + "%"]
        ).fetchone()[0]
    if inserted != len(work) and not errors:
        errors.append(f"{inserted} rows in the database, {len(work)} expected")
    return RawResult(inserted, elapsed, np.asarray([x for lat in latencies for x in lat]), errors)


# --- main ---------------------------------------------------------------------------------------------
def ms(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q) * 1000) if len(a) else float("nan")


def num(x: float, digits: int) -> float | None:
    """Rounded for the JSON line; None (null) instead of NaN."""
    return None if x != x else round(x, digits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="timed HTTP run (default 60)")
    parser.add_argument("--warmup", type=float, default=5, help="untimed HTTP load first (default 5)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (and baseline threads)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: gridgov serve's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: gridgov serve's)")
    parser.add_argument("--database-url", help="default $DATABASE_URL, else a fresh database")
    parser.add_argument("--keep", action="store_true", help="keep a database the script created")
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0:
        parser.error("--clients and --seconds must be positive")

    url, fresh = database_url(args.database_url, "gridgov_bench")
    db = Database(url)
    data_dir = Path(tempfile.mkdtemp(prefix="gridgov-bench-intake-"))
    os.environ["DATABASE_URL"] = url
    os.environ["GRIDGOV_DATA_DIR"] = str(data_dir)
    server: subprocess.Popen | None = None
    try:
        db.ensure()
        where = f"{db.name} ({'created' if db.created else 'existing'}{', kept' if args.keep else ''})"
        print(f"bench/intake.py — database {where}; preparing the small demo and tokens …", flush=True)
        setup = prepare(args.seed)

        port = free_port()
        log = data_dir / "server.log"
        server = start_server(port, args.workers, args.threads, log)
        wait_healthy(server, port, log)
        workers = args.workers or int(os.environ.get("GRIDGOV_WORKERS", "2"))
        threads = args.threads or int(os.environ.get("GRIDGOV_THREADS", "4"))
        print(
            f"server up on :{port} ({workers} workers × {threads} threads); "
            f"{args.warmup:g} s warm-up, then {args.seconds:g} s with {args.clients} clients …",
            flush=True,
        )

        run_id = secrets.token_hex(4)
        prefix, raw_prefix = f"bench-{run_id}-", f"raw-{run_id}-"
        http_result = run_http(
            port, setup.bodies, prefix, args.clients, args.warmup, args.seconds, server.pid
        )
        checks = verify(url, port, http_result, setup.bodies, prefix)
        stop_server(server)
        server = None

        print(f"baseline: {checks.db_cases:,} rows with plain psycopg, {args.clients} threads …", flush=True)
        from django.conf import settings

        raw = run_psycopg(url, prefix, raw_prefix, args.clients, ZoneInfo(settings.TIME_ZONE))
    finally:
        stop_server(server)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if db.created and not args.keep:
            try:
                db.drop()
            except psycopg.Error as exc:
                print(f"could not drop {db.name}: {exc}", file=sys.stderr)
        shutil.rmtree(data_dir, ignore_errors=True)

    seconds = http_result.window[1] - http_result.window[0]
    lat = http_result.counted()
    counts = http_result.status_counts()
    errors = sum(v for k, v in counts.items() if k != 201)
    total = sum(counts.values())
    http_rate = len(lat) / seconds
    raw_rate = raw.inserted / raw.seconds if raw.seconds > 0 else float("nan")
    ratio = raw_rate / http_rate if http_rate else float("nan")
    cpu = http_result.cpu

    rows = [
        ("database", f"PostgreSQL {db.name}" + (" (fresh)" if fresh else "")),
        (
            "demo",
            f"{setup.demo}: {setup.grids} grids, {setup.buildings} buildings; tokens for "
            f"{setup.grid_workers} grid workers (patrol) + {setup.residents} residents (resident_app)",
        ),
        ("server", f"gridgov serve: gunicorn gthread, {workers} workers × {threads} threads"),
        ("load", f"{args.clients} keep-alive clients, {args.warmup:g} s warm-up + {seconds:.1f} s timed"),
        (
            "HTTP requests (all)",
            f"{total:,}: " + ", ".join(f"{k or 'conn'} × {v:,}" for k, v in counts.items()),
        ),
        ("HTTP: cases/s", f"{http_rate:,.1f}  ({len(lat):,} cases in the timed window)"),
        (
            "HTTP: latency",
            f"p50 {ms(lat, 50):.1f} ms  p90 {ms(lat, 90):.1f} ms  p99 {ms(lat, 99):.1f} ms  "
            f"max {ms(lat, 100):.1f} ms",
        ),
        (
            "psycopg: cases/s",
            f"{raw_rate:,.1f}  ({raw.inserted:,} cases in {raw.seconds:.2f} s, {args.clients} threads)",
        ),
        ("psycopg: latency", f"p50 {ms(raw.latency, 50):.2f} ms  p99 {ms(raw.latency, 99):.2f} ms"),
        ("ratio", f"{ratio:.1f}× (psycopg ÷ HTTP)"),
        (
            "check: idempotency",
            f"{checks.db_cases:,} cases in the database for {checks.created:,} answers 201; "
            f"{checks.replay_ok}/{checks.replayed} replays answered 200, "
            f"{checks.db_after_replay - checks.db_cases} new cases",
        ),
        ("check: grids", f"{checks.unlocated} unlocated, {checks.misplaced} not in their building's grid"),
    ]
    if cpu:
        rows.append(
            (
                "CPU in the window",
                f"server {cpu['server']:.2f}, postgres {cpu['postgres']:.2f}, client {cpu['client']:.2f}, "
                f"other {cpu['other']:.2f}, idle {cpu['idle']:.2f} cores (of {os.cpu_count()})",
            )
        )
        if http_rate:
            rows.append(
                (
                    "CPU per HTTP case",
                    f"server {cpu['server'] / http_rate * 1000:.1f} ms, "
                    f"postgres {cpu['postgres'] / http_rate * 1000:.1f} ms",
                )
            )
    width = max(len(k) for k, _ in rows)
    print(f"bench/intake.py — POST {INTAKE_PATH} vs plain psycopg, {args.clients} clients")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    failed = errors or not checks.ok or raw.errors
    if errors:
        print(f"!! {errors:,} HTTP ERRORS (non-201). First answers:", file=sys.stderr)
        for sample in [s for log in http_result.logs for s in log.samples][:5]:
            print(f"   {sample}", file=sys.stderr)
    if not checks.ok:
        print("!! CHECKS FAILED (see the check rows above)", file=sys.stderr)
    if raw.errors:
        print("!! BASELINE ERRORS: " + "; ".join(raw.errors), file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "intake",
                "seconds": round(seconds, 1),
                "clients": args.clients,
                "workers": workers,
                "threads": threads,
                "http_cases_per_s": num(http_rate, 1),
                "p50_ms": num(ms(lat, 50), 1),
                "p99_ms": num(ms(lat, 99), 1),
                "psycopg_cases_per_s": num(raw_rate, 1),
                "psycopg_p50_ms": num(ms(raw.latency, 50), 2),
                "psycopg_p99_ms": num(ms(raw.latency, 99), 2),
                "ratio": num(ratio, 1),
                "cases": len(lat),
                "errors": errors,
                "checks_ok": checks.ok,
            }
        )
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
