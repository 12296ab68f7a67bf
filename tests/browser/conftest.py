"""A live platform for browser tests: daphne (HTTP + websockets) and the MQTT ingest service,
as subprocesses sharing the test database, driven by headless Chromium through Playwright.

The subprocesses must see what the test writes, so the test database must be one they can
open: on PostgreSQL (CI) it is; on SQLite the usual in-memory test database is not, so when
browser tests are selected the SQLite test database is moved to a file of its own.
Celery runs eagerly inside the ingest process, so a reading is scored and alerted on as soon
as it is stored; the channel layer is the shared Redis (real, or the embedded fakeredis).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from virtualward.embedded import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("VW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_SQLITE_DIR = Path(tempfile.mkdtemp(prefix="vw-browser-db-"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # Runs before any database is created. Only when browser tests will run does the SQLite
    # test database move from memory to a file (named as settings name it, in a directory of
    # its own, so subprocesses find it through VW_VAR_DIR with the same SQLite options).
    if not any(item.get_closest_marker("browser") for item in session.items):
        return
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.sqlite3":
        return
    test = db.setdefault("TEST", {})
    if not test.get("NAME") or str(test["NAME"]).startswith((":memory:", "file:memorydb")):
        test["NAME"] = str(_SQLITE_DIR / "virtualward.sqlite3")
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = test["NAME"]


def _database_env() -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        path = Path(db["NAME"])
        if path.name != "virtualward.sqlite3":
            # A VW_TEST_DB_NAME file elsewhere: give the subprocesses a link under the expected name.
            link = _SQLITE_DIR / "virtualward.sqlite3"
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(path.resolve())
            path = link
        return {"VW_VAR_DIR": str(path.parent), "DATABASE_URL": ""}
    user = db.get("USER") or "postgres"
    auth = f"{user}:{db['PASSWORD']}" if db.get("PASSWORD") else user
    url = f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return {"DATABASE_URL": url}


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)


def _wait_for_line(log: Path, text: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"{process.args[:3]} did not report {text!r}; log:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def live_platform(
    django_db_setup: Any, django_db_blocker: Any, mqtt_url: str, redis_url: str, tmp_path_factory: Any
) -> Iterator[dict[str, str]]:
    """Start daphne and ``manage.py ingest`` against the test database; yield their addresses."""
    logs = tmp_path_factory.mktemp("platform-logs")
    port = free_port()
    env = {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "virtualward.settings",
        "REDIS_URL": redis_url,
        "MQTT_URL": mqtt_url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "VW_RESCORE_DELAY_SECONDS": "0",
        "MQTT_SESSION_EXPIRY_S": "60",
        "DJANGO_DEBUG": "true",  # static files straight from the app directories (WhiteNoise finders)
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("VW_TEST_DB_NAME", None)
    python = sys.executable
    daphne = [python, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "virtualward.asgi:application"]
    client_id = f"vw-browser-{uuid.uuid4().hex[:8]}"
    ingest = [python, "manage.py", "ingest", "--no-share", "--client-id", client_id, "--stats-seconds", "600"]
    if not settings.MQTT_URL:
        # The embedded broker (a fresh machine) speaks MQTT 3.1.1 only.
        ingest += ["--protocol", "3.1.1"]
    web = _spawn(daphne, env, logs / "daphne.log")
    listener = _spawn(ingest, env, logs / "ingest.log")
    try:
        wait_for_port("127.0.0.1", port, timeout=30)
        _wait_for_line(logs / "ingest.log", "ingest ready", listener)
        yield {"url": f"http://127.0.0.1:{port}", "mqtt_url": mqtt_url, "logs": str(logs)}
    finally:
        _stop(listener)
        _stop(web)
        for name in ("daphne.log", "ingest.log"):
            with contextlib.suppress(OSError):
                ARTIFACTS.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(logs / name, ARTIFACTS.parent / f"browser-{name}")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # CI installs it (.ci/run) and must run these; a fresh laptop may not have it yet.
        message = f"Chromium not found at {CHROMIUM}: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse ORM calls from the test body. Nothing here is actually concurrent: the test
    # drives the browser and the database one step at a time.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def screenshot(page: Any, name: str, *, publish: bool = False) -> Path:
    """Save to test-artifacts/screenshots/; ``publish`` also copies it to docs/screenshots/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if publish:
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, docs / f"{name}.png")
    return path


@pytest.fixture
def accessible() -> Any:
    """``accessible(page, "where")`` fails the test on a serious or critical axe-core violation."""
    from tests.browser.a11y import assert_accessible

    return assert_accessible


@pytest.fixture
def forget_failed_sign_ins(live_platform: dict[str, str], redis_url: str) -> Iterator[None]:
    """Clear the per-source failed sign-in counts (frontend/login_limits.py) around a test.

    Every browser signs in from 127.0.0.1, and those counts live in the platform's Redis, not
    the test database: tests that lock an account out would otherwise add up until every later
    sign-in from the machine is refused.
    """
    import redis

    def forget() -> None:
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match="*vw:login:fail:src:*"):
            client.delete(key)

    forget()
    yield
    forget()


@pytest.fixture(autouse=True)
def quiet_database_before_flush(transactional_db: Any) -> Iterator[None]:
    """After each browser test, wait until the platform's own processes have finished with the
    database before pytest-django empties it.

    A test's last click can start work that outlives it (a discharge's summary and broker sync,
    a reading's rescore); TRUNCATE while that work holds row locks deadlocks. Torn down before
    ``transactional_db`` (which it depends on), so it runs before the flush. Bounded: 20 s.
    """
    yield
    if connection.vendor != "postgresql":
        return
    deadline, quiet_since = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            busy = cursor.fetchone()[0]
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return
        time.sleep(0.1)
