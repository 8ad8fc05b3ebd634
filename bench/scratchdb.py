"""A scratch PostgreSQL database for the benchmarks: the URL to use (the one given, `DATABASE_URL`, or a
fresh unique name on the local server), created when missing and dropped afterwards when the script
made it."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"


@dataclass
class Database:
    url: str
    created: bool = False

    @property
    def name(self) -> str:
        return psycopg.conninfo.conninfo_to_dict(self.url)["dbname"]

    def _admin(self) -> psycopg.Connection:
        params = psycopg.conninfo.conninfo_to_dict(self.url)
        params["dbname"] = "postgres"
        return psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True)

    def ensure(self) -> None:
        with self._admin() as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone():
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
            self.created = True

    def drop(self) -> None:
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


def database_url(arg: str | None, prefix: str) -> tuple[str, bool]:
    """The URL to use and whether it was chosen here (a fresh, unique name starting with `prefix`)."""
    url = arg or os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url, False
    return f"{DEFAULT_SERVER}/{prefix}_{os.getpid()}_{int(time.time())}", True
