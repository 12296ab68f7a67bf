"""A PostgreSQL server of the test's own (initdb in a temporary directory, a free port).

It can be crashed (``pg_ctl stop -m immediate``: no shutdown checkpoint, as a killed server)
and started again without touching the machine's shared server. It starts as a copy of the
test database (schema and rows, via ``pg_dump``), so ingest finds its devices there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings

from virtualward.embedded import free_port, wait_for_port


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live, or None when the server binaries are not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def run_as() -> list[str] | None:
    """The prefix that runs the server as an ordinary user: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return []
    with contextlib.suppress(KeyError):
        pwd.getpwnam("postgres")
        return ["runuser", "-u", "postgres", "--"]
    return None


class OwnPostgres:
    def __init__(self, bin_dir: Path, prefix: list[str]) -> None:
        self.bin_dir, self.prefix = bin_dir, prefix
        self.home = Path(tempfile.mkdtemp(prefix="vw-fault-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/vw_fault"
        if self.prefix:
            shutil.chown(self.home, user="postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.prefix, str(self.bin_dir / tool), *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"), "-o", options, "-w", "start")
        wait_for_port("127.0.0.1", self.port, timeout=20)

    def crash(self) -> None:
        """Stop at once, as a killed server: no checkpoint, crash recovery at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def copy_test_database(self) -> None:
        """Create vw_fault as a copy of the test database, rows included."""
        db = settings.DATABASES["default"]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE vw_fault")
        env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
        source = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "postgres"]
        dump = subprocess.run(
            [str(self.bin_dir / "pg_dump"), *source, "--no-owner", "--no-privileges", db["NAME"]],
            check=True, capture_output=True, env=env, timeout=60,
        )  # fmt: skip
        subprocess.run(
            [str(self.bin_dir / "psql"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "vw_fault"],
            input=dump.stdout, check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """The rows of a query on vw_fault (what the fault rig's checks read)."""
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=vw_fault") as conn:
            return conn.execute(sql, params).fetchall()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.home, ignore_errors=True)
