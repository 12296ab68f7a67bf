"""Real processes for the scoring fault tests: a Celery worker and beat (each a subprocess that the
test can kill -9), and a TCP relay between a worker and PostgreSQL that the test can cut.

Every process is stopped by its own pid; the relay only ever closes sockets it opened itself.
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
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


class CeleryProcess:
    """``celery -A virtualward <command>`` as a subprocess, with its log in a file."""

    def __init__(self, command: list[str], *, env: dict[str, str], log_dir: Path, name: str) -> None:
        self.command, self.env = command, env
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> CeleryProcess:
        environment = {k: v for k, v in os.environ.items() if k != "VW_TEST_DB_NAME"}
        environment.update(self.env, PYTHONUNBUFFERED="1")
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "virtualward", *self.command],
            cwd=BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.command[0]} never logged {text!r}:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9: no warm shutdown, nothing acknowledged or given back to the broker."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def worker(*, env: dict[str, str], queues: list[str], log_dir: Path, name: str) -> CeleryProcess:
    """A worker as deployed (late acks, the project's settings), on the solo pool to spare the CPU."""
    command = ["worker", "--pool", "solo", "--loglevel", "INFO", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"]
    command += ["-Q", ",".join(queues), "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return CeleryProcess(command, env=env, log_dir=log_dir, name=name)


def beat(*, env: dict[str, str], log_dir: Path) -> CeleryProcess:
    schedule = log_dir / f"beat-schedule-{uuid.uuid4().hex[:6]}"
    return CeleryProcess(
        ["beat", "--loglevel", "INFO", "--schedule", str(schedule)], env=env, log_dir=log_dir, name="beat"
    )


class DatabaseLink:
    """A TCP relay from a local port to the database server; ``cut()`` makes the server unreachable
    from whoever connects through it (connections reset, new ones refused), ``restore()`` heals it.

    To the worker this is what a database outage looks like, without stopping the server the rest
    of the test run (and other users of the machine) share.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = _free_port()
        self.connections = 0
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True, name="db-link").start()

    def cut(self) -> None:
        with self._lock:
            doomed, self._sockets = {*self._sockets, *filter(None, [self._listener])}, set()
            self._listener = None
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets |= {client, server}
                self.connections += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
