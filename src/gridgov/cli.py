"""The `gridgov` command: serve, demo, worker, createadmin, manage.

gridgov serve [--host H] [--port P] [--workers N] [--no-worker]
gridgov demo --scale small|district|longhua [--reset] [--seed S] [--history-days N]
gridgov worker
gridgov createadmin [--username U] [--role admin|security_admin|audit_admin]
gridgov unlock <username>
gridgov verify-timeline [--table app.Model …]
gridgov manage <django management command …>
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gridgov.cli")


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    import django

    django.setup()


def _migrate(verbosity: int = 0) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


class Supervisor:
    """Keeps one child process running: started at once, started again (after a pause that doubles up
    to `max_delay` while it keeps dying young) whenever it exits, until `stop()`."""

    def __init__(
        self, command: list[str], *, env: dict | None = None, min_delay: float = 1.0, max_delay: float = 60.0,
        healthy_after: float = 60.0, poll: float = 0.5, on_start: Callable[[subprocess.Popen], None] | None = None,
    ):  # fmt: skip
        self.command, self.env = command, env
        self.min_delay, self.max_delay, self.healthy_after, self.poll = (
            min_delay,
            max_delay,
            healthy_after,
            poll,
        )
        self.on_start = on_start
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="gridgov-supervisor", daemon=True)

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(self.command, env=self.env)  # noqa: S603 - our own command
        self.starts += 1
        self.started_at = time.monotonic()
        if self.on_start is not None:
            self.on_start(self.proc)

    def start(self) -> Supervisor:
        self._spawn()
        self._thread.start()
        return self

    def _watch(self) -> None:
        delay = self.min_delay
        while not self._stopping.wait(self.poll):
            proc = self.proc
            if proc is None or proc.poll() is None:
                continue
            lived = time.monotonic() - self.started_at
            delay = self.min_delay if lived >= self.healthy_after else delay
            msg = f"the background worker exited with code {proc.returncode}; starting it again in {delay:.0f} s"
            print(msg, file=sys.stderr, flush=True)
            log.warning(msg)
            if self._stopping.wait(delay):
                return
            self._spawn()
            delay = min(self.max_delay, delay * 2)

    def stop(self, timeout: float = 10) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _sweep_leftovers(*, spool: bool = False) -> None:
    """Plaintext copies of uploads that a killed import of an older version left in the data directory;
    with `spool` (the server, before it takes requests) also the request bodies Django spooled for
    requests that a killed server never finished."""
    from django.conf import settings

    from gridgov.core.tabular.jobs import sweep_leftovers

    sweep_leftovers(settings.DATA_DIR)
    if spool:
        for path in Path(settings.FILE_UPLOAD_TEMP_DIR).glob("*.upload*"):
            path.unlink(missing_ok=True)


def cmd_serve(args: argparse.Namespace) -> int:
    _setup_django()
    from django.conf import settings

    _migrate()
    _sweep_leftovers(spool=True)
    worker = None
    if not args.no_worker:
        # Background tasks (SLA sweeps, imports, reports) run in a Huey consumer beside the web server,
        # supervised: started again whenever it dies.
        worker = Supervisor([sys.executable, "-m", "gridgov.cli", "worker"], env=os.environ.copy()).start()

    from gunicorn.app.base import BaseApplication

    from gridgov.core import gunicorn_hooks
    from gridgov.wsgi import application

    gunicorn_hooks.apply()  # no Server header; gunicorn's own errors as problem+json

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", "-" if args.access_log else None)
            self.cfg.set("proc_name", "gridgov")

        def load(self):
            return application

    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(
        f"GridGov 网格治理平台 → http://{host}:{args.port}/  (API docs: http://{host}:{args.port}/api/docs)"
    )
    print(
        f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}  data: {settings.DATA_DIR}"
    )
    sys.stdout.flush()
    try:
        Server().run()
    finally:
        if worker is not None:
            worker.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _setup_django()
    _migrate()
    from gridgov.accounts.roles import Role
    from gridgov.demo.services import generate, representative_logins

    result = generate(args.scale, seed=args.seed, reset=args.reset, history_days=args.history_days)
    counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
    port = os.environ.get("GRIDGOV_PORT", "8000")
    print(f"演示区 Demo district ({args.scale}) ready in {result.elapsed:.1f} s: {counts}")
    print(f"浏览器打开 Open in a browser: http://127.0.0.1:{port}/  (API: http://127.0.0.1:{port}/api/docs)")
    print(f"每个角色一个登录 One login per role; all demo logins are in {result.logins_path}:")
    for login in representative_logins(result):
        where = login.get("area_name") or login.get("organisation_name") or ""
        label = str(Role(login["role"]).label)
        print(f"  {login['username']:<36} {login['password']}  {label} {where}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _setup_django()
    from django.core.management import call_command

    from gridgov.core.tasks import start_heartbeat

    _sweep_leftovers()
    start_heartbeat()  # /health reads it: a dead consumer stops beating
    call_command("run_huey")
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    _setup_django()
    _migrate()
    import getpass

    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    from gridgov.accounts.services import create_admin

    username = args.username or input("username: ").strip()
    password = os.environ.get("GRIDGOV_ADMIN_PASSWORD") or getpass.getpass("password: ")
    try:
        validate_password(password)
    except ValidationError as exc:
        print("\n".join(exc.messages), file=sys.stderr)
        return 2
    user = create_admin(
        username=username, password=password, role=args.role, display_name=args.name or username
    )
    print(f"created {args.role} {user.username}")
    return 0


def cmd_verify_timeline(args: argparse.Namespace) -> int:
    _setup_django()
    from gridgov.core.management.commands.verify_timeline import run

    return run(args.table, sys.stdout)


def cmd_manage(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridgov.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["gridgov manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridgov", description="GridGov 网格治理平台")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then serve GridGov with gunicorn")
    serve.add_argument("--host", default=os.environ.get("GRIDGOV_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("GRIDGOV_PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("GRIDGOV_WORKERS", "2")))
    serve.add_argument("--threads", type=int, default=int(os.environ.get("GRIDGOV_THREADS", "4")))
    serve.add_argument("--no-worker", action="store_true", help="do not start the background-task consumer")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="load the demo district (Longhua-like) and print demo logins")
    demo.add_argument("--scale", choices=["small", "district", "longhua"], default="small")
    demo.add_argument("--seed", type=int, default=20261122)
    demo.add_argument("--reset", action="store_true", help="delete the demo data first and generate it again")
    demo.add_argument(
        "--history-days", type=int, default=90, help="days of case history to generate (0: none; default 90)"
    )
    demo.set_defaults(func=cmd_demo)

    worker = sub.add_parser("worker", help="run the background-task consumer (Huey)")
    worker.set_defaults(func=cmd_worker)

    admin = sub.add_parser("createadmin", help="create a system, security or audit administrator")
    admin.add_argument("--username")
    admin.add_argument("--name")
    admin.add_argument("--role", choices=["admin", "security_admin", "audit_admin"], default="admin")
    admin.set_defaults(func=cmd_createadmin)

    from gridgov.cases.cli import add_parser as add_cases_parser

    add_cases_parser(sub)

    from gridgov.accounts.cli import add_parser as add_accounts_parser

    add_accounts_parser(sub)  # gridgov unlock <username>

    verify = sub.add_parser(
        "verify-timeline",
        help="walk every hash chain of the timelines and audit logs; exit 1 when an event was edited, "
        "deleted or inserted out of order",
    )
    verify.add_argument(
        "--table", action="append", help="only this table (app.Model), e.g. cases.TimelineEvent"
    )
    verify.set_defaults(func=cmd_verify_timeline)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    finally:
        # Refusals that waited for a transaction are written on the way out (see core.principal).
        from django.apps import apps

        if apps.ready:
            from gridgov.core.principal import flush_denials

            flush_denials()


if __name__ == "__main__":
    sys.exit(main())
