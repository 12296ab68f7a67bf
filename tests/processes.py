"""Real processes the tests start (ingest, Celery workers and beat), each with its log in a file,
stopped or killed by its own pid; and what they need to share the test's database.

One helper for the end-to-end, fault and platform tests, so that a process is started, awaited
and stopped the same way everywhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Self
from urllib.parse import quote

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true" or os.environ.get("VW_REQUIRE_SERVICES") == "true"


def needs(missing: bool, reason: str) -> None:
    """Skip on a machine without what the test needs; in CI never skip: fail."""
    if missing and not IN_CI:
        pytest.skip(reason)
    assert not missing, f"CI must be able to run this test: {reason}"


def shared_database_url(*, port: int | None = None) -> str | None:
    """A DATABASE_URL for the test database as it is named at run time, that a subprocess can
    open (through ``port`` instead of the server's own when given); None when it is in memory."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"
    name = str(db["NAME"])
    return None if "memory" in name else f"sqlite:///{name}"


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment for a child, without the suite's test-database switch."""
    env = {k: v for k, v in os.environ.items() if k != "VW_TEST_DB_NAME"}
    return env | {"PYTHONUNBUFFERED": "1"} | overrides


class LoggedProcess:
    """A command run from the project's root with its output appended to ``log_path``.

    It can be started again after it stopped or was killed; :meth:`wait_for_log` looks only at
    what the latest start wrote.
    """

    def __init__(self, argv: list[str], *, env: dict[str, str], log_path: Path, name: str = "") -> None:
        self.argv, self.env, self.log_path = argv, env, log_path
        self.name = name or " ".join(argv[1:3])
        self.process: subprocess.Popen | None = None
        self._started_at_char = 0

    def start(self) -> Self:
        self._started_at_char = len(self.log())
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.argv, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Until the latest start has logged ``text``; fails at once if the process exits first."""
        deadline = time.monotonic() + timeout
        while text not in self.log()[self._started_at_char :]:
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never logged {text!r}:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        """kill -9: no clean shutdown, nothing finished, acknowledged or handed back."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, grace_s: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def manage(*args: str) -> list[str]:
    """``python manage.py <args>`` with this interpreter."""
    return [sys.executable, "manage.py", *args]
