"""The `gridgov` command, end to end: `serve` answers on its port with a real server."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_migrates_and_answers_health(tmp_path):
    port = _free_port()
    env = os.environ.copy()
    env["GRIDGOV_DATA_DIR"] = str(tmp_path)
    env.pop("DATABASE_URL", None)  # the embedded default: SQLite in the data directory
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridgov.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 60
        body = None
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
                    body = json.loads(r.read())
                    if body["status"] == "ok":  # the consumer beats once it has started
                        break
            except OSError:
                if proc.poll() is not None:
                    break
            time.sleep(0.3)
        assert body is not None, proc.stdout.read() if proc.poll() is not None else "server did not answer"
        assert body["status"] == "ok", body
        assert body["consumer"]["ok"] is True and "heartbeat" in body["consumer"]["detail"]
        # The consumer dies (e.g. killed by a hostile file): serve starts it again, it beats again.
        worker_pid = int(body["consumer"]["detail"].split("pid ")[1].rstrip(")"))
        os.kill(worker_pid, 9)
        deadline, new_pid = time.time() + 60, worker_pid
        while time.time() < deadline and new_pid == worker_pid:
            time.sleep(0.5)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
                detail = json.loads(r.read())["consumer"]["detail"]
            new_pid = int(detail.split("pid ")[1].split(")")[0])
        assert new_pid != worker_pid
        assert body["database"]["engine"] == "sqlite"
        assert (tmp_path / "gridgov.sqlite3").exists()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert "网格治理平台" in r.read().decode()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_cli_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "gridgov.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "demo", "worker", "createadmin"):
        assert command in out


def test_queue_runs_on_redis_when_redis_url_is_set(tmp_path):
    """Huey on Redis with REDIS_URL (the district set-up); skipped where no Redis answers."""
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    env = os.environ.copy()
    env.update(GRIDGOV_DATA_DIR=str(tmp_path), REDIS_URL="redis://127.0.0.1:6379/15")
    env.pop("DATABASE_URL", None)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='gridgov.settings'; django.setup();"
        "from gridgov.core.health import queue_status; s = queue_status(); print(s.engine, s.ok)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["RedisStorage", "True"]


def test_the_supervisor_starts_a_dying_worker_again_and_stops_it():
    from gridgov.cli import Supervisor

    dying = Supervisor(
        [sys.executable, "-c", "raise SystemExit(3)"], min_delay=0.05, max_delay=0.1, poll=0.05
    )
    dying.start()
    try:
        deadline = time.time() + 20
        while dying.starts < 3 and time.time() < deadline:
            time.sleep(0.05)
        assert dying.starts >= 3  # died, started again, died, started again
    finally:
        dying.stop()
    running = Supervisor([sys.executable, "-c", "import time; time.sleep(60)"], poll=0.05).start()
    proc = running.proc
    running.stop()
    assert proc is not None and proc.returncode is not None and running.starts == 1


def test_serve_and_worker_sweep_plaintext_leftovers_of_killed_imports(settings, tmp_path):
    from gridgov.cli import _sweep_leftovers

    settings.DATA_DIR = tmp_path
    imports = tmp_path / "registry" / "imports"
    imports.mkdir(parents=True)
    (imports / "gridgov-import-x1y2z3").write_text("姓名,公民身份号码\n张三,110105196001010011\n")
    (imports / "gridgov-errors-a1b2c3").write_bytes(b"PK plaintext error workbook")
    (imports / "7-upload.bin").write_bytes(b"GGV1 encrypted")  # an encrypted upload stays
    spool = tmp_path / "upload-spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    (spool / "tmpab12cd.upload.csv").write_text("张三,110105196001010011\n")  # a request a kill cut short
    _sweep_leftovers()  # the worker: requests may be in flight, the spool stays
    assert sorted(p.name for p in imports.iterdir()) == ["7-upload.bin"]
    assert [p.name for p in spool.iterdir()] == ["tmpab12cd.upload.csv"]
    _sweep_leftovers(spool=True)  # the server, before it takes requests
    assert list(spool.iterdir()) == []
