"""Real processes for the scoring fault tests: a Celery worker and beat (each a subprocess that the
test can kill -9), and a TCP relay between a worker and PostgreSQL that the test can cut.

Every process is stopped by its own pid; the relay only ever closes sockets it opened itself.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import uuid
from pathlib import Path

from tests.processes import LoggedProcess, child_env
from virtualward.embedded import free_port


def celery(command: list[str], *, env: dict[str, str], log_dir: Path, name: str) -> LoggedProcess:
    """``celery -A virtualward <command>`` as a subprocess, with its log in a file of its own."""
    return LoggedProcess(
        [sys.executable, "-m", "celery", "-A", "virtualward", *command],
        env=child_env(**env),
        log_path=log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log",
        name=f"celery {command[0]}",
    )


def worker(*, env: dict[str, str], queues: list[str], log_dir: Path, name: str) -> LoggedProcess:
    """A worker as deployed (late acks, the project's settings), on the solo pool to spare the CPU."""
    command = ["worker", "--pool", "solo", "--loglevel", "INFO", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"]
    command += ["-Q", ",".join(queues), "--without-gossip", "--without-mingle", "--without-heartbeat"]
    return celery(command, env=env, log_dir=log_dir, name=name)


def beat(*, env: dict[str, str], log_dir: Path) -> LoggedProcess:
    schedule = log_dir / f"beat-schedule-{uuid.uuid4().hex[:6]}"
    return celery(["beat", "--loglevel", "INFO", "--schedule", str(schedule)], env=env, log_dir=log_dir, name="beat")


class DatabaseLink:
    """A TCP relay from a local port to the database server; ``cut()`` makes the server unreachable
    from whoever connects through it (connections reset, new ones refused), ``restore()`` heals it.

    To the worker this is what a database outage looks like, without stopping the server the rest
    of the test run (and other users of the machine) share.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
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
