"""Embedded stand-ins for a fresh machine: an MQTT broker (amqtt) and a Redis server (fakeredis).

Production and CI use Mosquitto and Redis. These exist so that `make run` and `make test` work
on a machine with nothing installed; they are started only when MQTT_URL / REDIS_URL are unset.

    python -m virtualward.embedded mqtt --port 18830
    python -m virtualward.embedded redis --port 16379
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing is listening on {host}:{port} after {timeout:.0f}s")


def url_reachable(url: str, default_port: int, timeout: float = 3.0) -> bool:
    """Whether something accepts TCP connections at the host and port of ``url``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=timeout):
            return True
    except OSError:
        return False


def mqtt_broker_config(host: str, port: int) -> dict:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve_mqtt(host: str, port: int, stop: asyncio.Event) -> None:
    from amqtt.broker import Broker

    broker = Broker(mqtt_broker_config(host, port))
    await broker.start()
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


@contextlib.contextmanager
def embedded_mqtt(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Run an embedded broker on a thread for the duration of the block; yields its URL."""
    port = port or free_port()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve_mqtt(host, port, stop),), daemon=True, name="embedded-mqtt"
    )
    thread.start()
    wait_for_port(host, port)
    try:
        yield f"mqtt://{host}:{port}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=5)


@contextlib.contextmanager
def embedded_redis(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Run a Redis-protocol server (fakeredis) on a thread; yields its URL."""
    from fakeredis import TcpFakeServer

    port = port or free_port()
    server = TcpFakeServer((host, port), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="embedded-redis")
    thread.start()
    try:
        yield f"redis://{host}:{port}/0"
    finally:
        server.shutdown()
        server.server_close()


class _PrintingSink:
    """An SMTP sink for the demo: accepts every message and prints who it was for and its subject."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[attr-defined]
        to = ", ".join(envelope.rcpt_tos)  # type: ignore[attr-defined]
        print(f"e-mail to {to}: {message['Subject']}", flush=True)
        return "250 Message accepted for delivery"


@contextlib.contextmanager
def embedded_smtp(host: str = "127.0.0.1", port: int | None = None) -> Iterator[str]:
    """Run an SMTP sink (aiosmtpd) that prints each message it receives; yields its address."""
    from aiosmtpd.controller import Controller

    port = port or free_port()
    controller = Controller(_PrintingSink(), hostname=host, port=port)
    controller.start()
    try:
        yield f"smtp://{host}:{port}"
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", choices=["mqtt", "redis", "smtp"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    starter = {"mqtt": embedded_mqtt, "redis": embedded_redis, "smtp": embedded_smtp}[args.service]
    with starter(args.host, args.port) as url:
        print(f"embedded {args.service} listening at {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
