"""The bench's own Mosquitto, configured exactly as the platform configures production's.

The machine's shared broker keeps Mosquitto's small default queues (1,000 messages per
client), so a platform a second behind at 2,000 msg/s would have messages dropped by the
broker and the bench would report the broker's loss as the platform's. The bench therefore
runs a private broker on a free port from the platform's generated configuration
(``devices.broker_auth``: authentication, ACLs, the raised queue limits) and points the
platform, the fleet and the baseline at it. The fleet and the baseline connect with one extra
account, added to the generated files, that may play every device under both topic roots.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from devices.broker_auth import ACL_NAME, PASSWD_NAME, mosquitto_binary, mosquitto_run
from devices.credentials import secret_generate, secret_hash

BENCH_USERNAME = "vw-bench-fleet"

BENCH_ACL_TEXT = """
# The bench's fleet and baseline subscriber (benchmarks/broker.py), on its own broker only.
user {username}
topic readwrite vw/v1/devices/#
topic readwrite vwbench/v1/devices/#
"""


class BrokerUnavailable(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def add_bench_account(directory: Path) -> str:
    """Append the fleet's account to the generated passwd and acl; returns its password."""
    password = secret_generate()
    with (directory / PASSWD_NAME).open("a") as passwd:
        passwd.write(f"{BENCH_USERNAME}:{secret_hash(password)}\n")
    with (directory / ACL_NAME).open("a") as acl:
        acl.write(BENCH_ACL_TEXT.format(username=BENCH_USERNAME))
    return password


def with_credentials(url: str, username: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{quote(username, safe='')}:{quote(password, safe='')}@{rest}"


@contextlib.contextmanager
def own_broker(log_dir: Path, host: str = "127.0.0.1") -> Iterator[tuple[str, str]]:
    """Run a private Mosquitto; yields (platform URL, fleet URL with the bench account in it).

    Call after the bench database holds the fleet: the generated passwd file reads the
    device registry, as the platform's own broker configuration does.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise BrokerUnavailable("mosquitto is not installed (apt-get install mosquitto), or set BENCH_MQTT_URL")
    log_dir.mkdir(parents=True, exist_ok=True)
    accounts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vw-bench-broker-") as directory:
        port = free_port(host)
        with mosquitto_run(
            directory,
            host=host,
            port=port,
            prepare=lambda target: accounts.append(add_bench_account(target)),
            log_path=log_dir / "mosquitto.log",
        ) as running:
            yield running.url, with_credentials(running.url, BENCH_USERNAME, accounts[0])
