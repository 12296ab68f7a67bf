"""``make run``: the whole platform on one machine, supervised, stopped cleanly by Ctrl-C.

Starts what is missing (an embedded MQTT broker without MQTT_URL, an embedded Redis without
REDIS_URL), prepares the database (migrate, collectstatic, the demo if the database is empty),
then runs web, ingest, two Celery workers (the prompt and the default queue), beat and the device
simulator as child processes with their output prefixed by name. Ctrl-C or SIGTERM stops them
all (SIGTERM, a grace period, then SIGKILL) and exits 0. A child that dies on its own is reported
loudly and started again after a back-off (1 s, doubling to 30 s; afresh once it has run a
minute); one that dies within seconds five times running is broken, not unlucky, and stops the
rest (exit 1).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from virtualward.embedded import free_port, wait_for_port
from virtualward.env import env_bool, env_int, env_str

PY = sys.executable
MANAGE = str(Path(settings.BASE_DIR) / "manage.py")
APP_STOP_SECONDS = 10.0  # ingest drains for up to 10 s; Celery finishes its current task
BROKER_STOP_SECONDS = 3.0
COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95")
RESTART_BASE_S, RESTART_MAX_S = 1.0, 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long before dying starts its back-off afresh
CRASH_LOOP_LIMIT = 5  # quick deaths in a row after which restarting is given up


def restart_delay(failures: int, *, base_s: float = RESTART_BASE_S, max_s: float = RESTART_MAX_S) -> float:
    """The wait before restarting a child after its ``failures``-th quick death in a row (1 first)."""
    return min(max_s, base_s * 2 ** min(max(failures - 1, 0), 30))


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    reader: threading.Thread | None = None
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None
    started_at: float = field(default_factory=time.monotonic)
    failures: int = 0  # quick deaths in a row
    restart_at: float | None = None  # set while it waits to be restarted


@dataclass
class Supervisor:
    """Child processes, each in its own session so the terminal's Ctrl-C reaches only us."""

    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    colour: bool = field(default_factory=lambda: sys.stdout.isatty())

    def say(self, name: str, line: str) -> None:
        label = f"{name:>13} |"  # as wide as "worker-prompt"
        if self.colour:
            label = f"\033[{COLOURS[hash(name) % len(COLOURS)]}m{label}\033[0m"
        with self.lock:
            sys.stdout.write(f"{label} {line.rstrip()}\n")
            sys.stdout.flush()

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, self._spawn(argv, env), argv=argv, env=env)
        self._read(child)
        self.children.append(child)
        return child

    def _spawn(self, argv: list[str], env: dict[str, str] | None) -> subprocess.Popen:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and fixed arguments)
            argv,
            env=env or self.env,
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def _read(self, child: Child) -> None:
        child.reader = threading.Thread(target=self._pump, args=(child, child.process), daemon=True)
        child.reader.start()

    def _pump(self, child: Child, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.say(child.name, raw.decode("utf-8", "replace"))

    def run_step(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """A one-off preparation step (migrate, collectstatic, the demo) that must succeed."""
        child = self.start(name, argv, env)
        code = child.process.wait()
        if child.reader is not None:
            child.reader.join(timeout=5)
        self.children.remove(child)
        if code != 0:
            raise CommandError(f"{name} failed (exit code {code}); see its output above")

    def first_dead(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def tend(self, now: float, *, base_s: float = RESTART_BASE_S) -> Child | None:
        """Restart children that died, each after its back-off; the first one in a crash loop."""
        for child in self.children:
            if child.restart_at is None and child.process.poll() is not None:
                ran = now - child.started_at
                child.failures = 1 if ran >= STABLE_AFTER_S else child.failures + 1
                if child.failures >= CRASH_LOOP_LIMIT:
                    return child
                child.restart_at = now + restart_delay(child.failures, base_s=base_s)
                self.say("platform", f"!!! {child.name} exited unexpectedly (code {child.process.returncode}) "
                                     f"after {ran:.0f}s; restarting it in {child.restart_at - now:.0f}s")  # fmt: skip
            elif child.restart_at is not None and now >= child.restart_at:
                self.restart(child, now)
        return None

    def restart(self, child: Child, now: float) -> None:
        if child.reader is not None:
            child.reader.join(timeout=1)
        child.process = self._spawn(child.argv, child.env)
        child.started_at, child.restart_at = now, None
        self._read(child)
        self.say("platform", f"{child.name} restarted (pid {child.process.pid})")

    def stop(self, children: list[Child], grace: float) -> None:
        """SIGTERM each child's process group, wait up to `grace`, then SIGKILL what is left."""
        for child in children:
            if child.process.poll() is None:  # one waiting to be restarted has no group left
                _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                self.say("platform", f"{child.name} did not stop within {grace:.0f}s: killing it")
                _signal_group(child, signal.SIGKILL)
                child.process.wait(timeout=5)
            if child.reader is not None:
                child.reader.join(timeout=2)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM if the supervisor itself dies.

    Children run in their own sessions (Ctrl-C reaches only the supervisor, which stops them in
    order), so without this a supervisor killed outright would leave them running.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signum)  # Celery's pool processes share the group


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def choose_port(supervisor: Supervisor, configured: int | None, preferred: int, what: str) -> int:
    """A port the user set must be free; the usual default may fall back to any free port."""
    if configured:
        if port_in_use("127.0.0.1", configured):
            raise CommandError(f"port {configured} for the {what} is already in use: choose another")
        return configured
    if not port_in_use("127.0.0.1", preferred):
        return preferred
    port = free_port()
    supervisor.say("platform", f"port {preferred} is already in use: the {what} uses port {port} instead")
    return port


class Command(BaseCommand):
    help = "Run the whole platform (broker, Redis, web, ingest, workers, beat, simulator) until Ctrl-C."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default=env_str("VW_HOST", "127.0.0.1"), help="Web address (VW_HOST).")
        parser.add_argument("--port", type=int, default=env_int("VW_PORT", 8000), help="Web port (VW_PORT).")
        parser.add_argument("--mqtt-port", type=int, default=env_int("VW_MQTT_PORT", 0),
                            help="Embedded broker port (VW_MQTT_PORT; default 1883, or any free one).")  # fmt: skip
        parser.add_argument("--device-mqtt-port", type=int, default=env_int("VW_MQTT_DEVICE_PORT", 0),
                            help="Devices' MQTT port (VW_MQTT_DEVICE_PORT; default 1884, or any free).")  # fmt: skip
        parser.add_argument("--redis-port", type=int, default=env_int("VW_REDIS_PORT", 0),
                            help="Embedded Redis port (VW_REDIS_PORT; default 6379, or any free one).")  # fmt: skip
        parser.add_argument("--speed", type=float, default=float(env_str("VW_SIM_SPEED", "60")),
                            help="Simulator: scenario hours per real hour (VW_SIM_SPEED, default 60).")  # fmt: skip
        parser.add_argument("--no-simulator", action="store_true", help="Do not start the device simulator.")
        parser.add_argument("--no-demo", action="store_true", help="Do not load the demo into an empty database.")

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if port_in_use(options["host"], options["port"]):
            raise CommandError(f"port {options['port']} is already in use: stop what uses it or pass --port")
        supervisor = Supervisor(env=self._base_env())
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        services: list[Child] = []
        try:
            services = self._start_services(supervisor, options)
            self._prepare(supervisor, options)
            self._start_broker(supervisor, options, services)
            self._start_platform(supervisor, options)
            self._banner(supervisor, options)
            failed = self._watch(supervisor, stop)
        except CommandError as exc:
            supervisor.say("platform", f"!!! {exc}")
            failed = True
        finally:
            self._shutdown(supervisor, services)
        if failed:
            raise SystemExit(1)
        supervisor.say("platform", "stopped cleanly")

    # --- steps ----------------------------------------------------------------------------

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="virtualward.settings", VW_VAR_DIR=str(settings.VAR_DIR)
        )
        return env

    def _start_services(self, supervisor: Supervisor, options) -> list[Child]:  # type: ignore[no-untyped-def]
        started = []
        if not settings.REDIS_URL:
            port = choose_port(supervisor, options["redis_port"], 6379, "embedded Redis")
            started.append(supervisor.start("redis", [PY, "-m", "virtualward.embedded", "redis", "--port", str(port)]))
            wait_for_port("127.0.0.1", port, timeout=15)
            # Shared by every child: Celery's broker and the channel layer must be one server.
            supervisor.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        if not settings.EMAIL_HOST:
            # Staff e-mails go to a sink that prints them (as "smtp"); /notifications/ lists them all.
            port = free_port()
            started.append(supervisor.start("smtp", [PY, "-m", "virtualward.embedded", "smtp", "--port", str(port)]))
            wait_for_port("127.0.0.1", port, timeout=15)
            supervisor.env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
        return started

    def _start_broker(self, supervisor: Supervisor, options, services: list[Child]) -> None:  # type: ignore[no-untyped-def]
        # After migrate and the demo: Mosquitto's password file is written from the registry.
        broker = start_broker(supervisor, options["mqtt_port"], options["device_mqtt_port"])
        supervisor.env["MQTT_URL"] = broker.url
        if broker.device_url and not os.environ.get("MQTT_PUBLIC_URL"):
            # Pairing hands devices the address of their own listener, not the platform's.
            supervisor.env["MQTT_PUBLIC_URL"] = broker.device_url
        self.broker = broker
        services += [broker.child] if broker.child else []

    def _prepare(self, supervisor: Supervisor, options) -> None:  # type: ignore[no-untyped-def]
        migrate_with_roles(supervisor)
        supervisor.run_step("static", [PY, MANAGE, "collectstatic", "--noinput", "-v", "0"])
        if options["no_demo"]:
            return
        # Nobody watches a dashboard during the load: without REDIS_URL its thousand history
        # events go to an in-process layer instead of the shared one, and any task runs inline.
        quiet = {k: v for k, v in supervisor.env.items() if k != "REDIS_URL"}
        supervisor.run_step("demo", [PY, MANAGE, "load_demo", "--if-empty"], env=quiet)

    def _start_platform(self, supervisor: Supervisor, options) -> None:  # type: ignore[no-untyped-def]
        web = [PY, "-m", "daphne", "-b", options["host"], "-p", str(options["port"]), "virtualward.asgi:application"]
        supervisor.start("web", web)
        ingest = [PY, MANAGE, "ingest"]
        if self.broker.kind == "embedded":
            # The embedded broker speaks only MQTT 3.1.1, so no shared subscriptions either.
            ingest += ["--protocol", "3.1.1", "--no-share"]
        supervisor.start("ingest", ingest)
        sqlite = settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        schedule = str(Path(settings.VAR_DIR) / "celerybeat-schedule")
        for name, argv in celery_commands(sqlite=sqlite, schedule=schedule).items():
            supervisor.start(name, argv)
        if not options["no_simulator"]:
            # The simulated devices connect as devices do: to their own listener when there is one.
            url = ["--url", self.broker.device_url] if self.broker.device_url else []
            supervisor.start("simulator", [PY, MANAGE, "simulate_devices", "--speed", str(options["speed"]), *url])
        wait_for_port(options["host"], options["port"], timeout=60)

    def _banner(self, supervisor: Supervisor, options) -> None:  # type: ignore[no-untyped-def]
        from django.contrib.auth import get_user_model

        from fixtures.demo import demo_logins_text
        from fixtures.demo_plan import DEMO_USERS

        host = "127.0.0.1" if options["host"] in ("0.0.0.0", "::") else options["host"]  # noqa: S104
        lines = ["", "=" * 72, f"Virtual ward running at http://{host}:{options['port']}/", ""]
        if get_user_model().objects.filter(username=DEMO_USERS[0].username).exists():
            lines += demo_logins_text().splitlines()
        lines += [
            f"MQTT broker: {supervisor.env['MQTT_URL']} (the platform's processes)",
            *([f"MQTT for devices: {self.broker.device_url} (client id = username)"] if self.broker.device_url else []),
            f"Notifications to staff: http://{host}:{options['port']}/notifications/ (e-mails also printed as [smtp])",
            "Press Ctrl-C to stop everything.",
            "=" * 72,
            "",
        ]
        for line in lines:
            supervisor.say("platform", line)

    def _watch(self, supervisor: Supervisor, stop: threading.Event, *, base_s: float = RESTART_BASE_S) -> bool:
        while not stop.wait(0.2):
            dead = supervisor.tend(time.monotonic(), base_s=base_s)
            if dead is not None:
                supervisor.say("platform", "!" * 72)
                supervisor.say("platform", f"!!! {dead.name} exited unexpectedly (code {dead.process.returncode}), "
                                           f"{dead.failures} times in a row within seconds of starting.")  # fmt: skip
                supervisor.say("platform", "!!! Stopping everything else. Its output above says why.")
                supervisor.say("platform", "!" * 72)
                return True
        supervisor.say("platform", "stopping (Ctrl-C): simulator, web, ingest, workers, beat, then brokers")
        return False

    def _shutdown(self, supervisor: Supervisor, services: list[Child]) -> None:
        # The platform first, the broker and Redis last: ingest still acknowledges what it holds.
        platform = [c for c in reversed(supervisor.children) if c not in services]
        supervisor.stop(platform, APP_STOP_SECONDS)
        supervisor.stop(list(reversed(services)), BROKER_STOP_SECONDS)


def migrate_with_roles(supervisor: Supervisor) -> None:
    """Migrate; on PostgreSQL as the owner role, then every later child runs as the application role.

    DATABASE_URL names the DBA (a superuser or CREATEROLE role) that `manage.py db_roles --migrate`
    runs as; it makes the owner and application roles (VW_DB_OWNER_ROLE, VW_DB_APP_ROLE), migrates
    connected as the owner and grants the application its rights. The children then connect as
    the application role, which cannot truncate, alter or rewrite the audit trail (docs/security.md).
    SQLite has no roles; VW_DB_ROLES=false keeps one role on PostgreSQL too.
    """
    from accounts.db_roles import app_role_env, can_manage_roles, db_role_password

    postgresql = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if not (postgresql and env_bool("VW_DB_ROLES", True)):
        supervisor.run_step("migrate", [PY, MANAGE, "migrate", "--noinput"])
        return
    if not can_manage_roles():
        warning = "DATABASE_URL's role may not create roles: everything runs as it, and it could wipe the audit trail"
        supervisor.say("platform", f"!!! {warning}. Use a superuser, or set VW_DB_ROLES=false.")
        supervisor.run_step("migrate", [PY, MANAGE, "migrate", "--noinput"])
        return
    owner_password, app_password = (db_role_password(which) for which in ("owner", "app"))
    roles = {"VW_DB_OWNER_PASSWORD": owner_password, "VW_DB_APP_PASSWORD": app_password}
    supervisor.run_step("migrate", [PY, MANAGE, "db_roles", "--migrate"], env={**supervisor.env, **roles})
    supervisor.env = app_role_env(supervisor.env, settings.DATABASE_URL, app_password)


# The default queue's worker runs at a lower CPU priority (virtualward.celery.Niceness).
NICE = ["--niceness", "10"]


def celery_commands(*, sqlite: bool, schedule: str) -> dict[str, list[str]]:
    """The two workers' and beat's command lines.

    Two workers, one per queue, so prompt rescoring (an abnormal reading, a patient above low
    risk) never waits behind routine rescoring, sweeps and reports on the default queue.

    At warning level: at info, every rescoring and every five-second sweep logs two lines, a
    few thousand a minute that bury the one line a user needs (a failure) in `make run`'s output.
    """
    # One writer at a time suits SQLite; on PostgreSQL the prompt worker takes a small prefork
    # pool, as alerts wait on it, while one process keeps up with the default queue's work.
    if sqlite:
        prompt_pool = default_pool = ["--pool=solo", "--concurrency=1"]
    else:
        prompt_pool, default_pool = ["--pool=prefork", "--concurrency=2"], ["--pool=prefork", "--concurrency=1"]
    celery = [PY, "-m", "celery", "-A", "virtualward"]
    worker = [*celery, "worker", "-l", "warning", "--without-mingle", "--without-gossip"]
    return {
        # Niced: on a busy machine its periodic routine rescoring yields to ingest and alerts.
        "worker": [
            *worker,
            "-Q",
            settings.CELERY_TASK_DEFAULT_QUEUE,
            "-n",
            "default@%h",
            *default_pool,
            "--niceness",
            "10",
        ],
        "worker-prompt": [*worker, "-Q", settings.VW_PROMPT_QUEUE, "-n", "prompt@%h", *prompt_pool],
        "beat": [*celery, "beat", "-l", "warning", "-s", schedule],
    }


@dataclass
class Broker:
    url: str
    kind: str  # "configured" (MQTT_URL), "mosquitto" (generated config) or "embedded" (amqtt)
    child: Child | None = None
    # Mosquitto's listener for devices, where the client id is always the username; "" when the
    # devices share the platform's listener (a configured or the embedded broker).
    device_url: str = ""


def start_broker(supervisor: Supervisor, configured_port: int, configured_device_port: int = 0) -> Broker:
    """The MQTT broker for this run: MQTT_URL's when set; else Mosquitto with the platform's
    generated configuration (per-device passwords and ACLs) when it is installed; else the
    embedded Python broker, so a machine with nothing installed still runs.

    Mosquitto gets two listeners, as in docker-compose: the platform's processes share one
    account and keep a session each on theirs; on the devices' the broker takes the username (the
    device id) as the client id, so no device can knock another offline by borrowing its id.
    """
    if settings.MQTT_URL:
        return Broker(settings.MQTT_URL, "configured")
    from devices.broker_auth import broker_config_write, mosquitto_binary

    port = choose_port(supervisor, configured_port, 1883, "MQTT broker")
    binary = mosquitto_binary()
    if binary is not None:
        device_port = choose_port(supervisor, configured_device_port, 1884, "devices' MQTT listener")
        if device_port == port:
            raise CommandError(f"the platform's and the devices' MQTT listeners cannot share port {port}")
        conf = broker_config_write(settings.MQTT_BROKER_DIR, host="127.0.0.1", port=port, device_port=device_port)
        child = supervisor.start("mqtt", [binary, "-c", str(conf)])
        wait_for_port("127.0.0.1", port, timeout=15)
        wait_for_port("127.0.0.1", device_port, timeout=15)
        supervisor.say("mqtt", f"Mosquitto with generated passwords and ACLs from {conf.parent}")
        return Broker(f"mqtt://127.0.0.1:{port}", "mosquitto", child, device_url=f"mqtt://127.0.0.1:{device_port}")
    child = supervisor.start("mqtt", [PY, "-m", "virtualward.embedded", "mqtt", "--port", str(port)])
    wait_for_port("127.0.0.1", port, timeout=15)
    supervisor.say("mqtt", "Mosquitto is not installed: using the embedded broker (no device passwords)")
    return Broker(f"mqtt://127.0.0.1:{port}", "embedded", child)
