"""Typed readers for settings that come from the environment.

Every setting that differs between a laptop, CI and production is read here, once, so that
a wrong value fails at start-up with the variable's name rather than later with a mystery.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit


class ImproperlyConfiguredEnv(ValueError):
    pass


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a whole number") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_cidrs(name: str) -> list[str]:
    """A comma-separated list of networks (``10.0.0.0/8``, ``::1``), each checked at start-up."""
    cidrs = env_list(name, [])
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ImproperlyConfiguredEnv(f"{name}: {cidr!r} is not an address or network") from exc
    return cidrs


def mqtt_endpoint(url: str) -> tuple[str, int, bool]:
    """Host, port and TLS flag of an ``mqtt://`` or ``mqtts://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
        raise ImproperlyConfiguredEnv(f"MQTT_URL={url!r} must start with mqtt:// or mqtts://")
    tls = parts.scheme in {"mqtts", "ssl"}
    return parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883), tls


def env_secret(name: str, default: str = "") -> str:
    """A secret from ``NAME_FILE`` (a Docker secret, a mounted file) or else ``NAME``.

    The file wins so that a deployment using secrets files never falls back to a stale
    variable; a named file that cannot be read is a start-up error, never an empty secret.
    """
    path = os.environ.get(f"{name}_FILE", "")
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise ImproperlyConfiguredEnv(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from exc
        if not value:
            raise ImproperlyConfiguredEnv(f"{name}_FILE={path!r} is empty")
        return value
    return os.environ.get(name, default)


def dev_secret(path: Path, generate: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> str:
    """A development secret kept in ``path`` (mode 0600), made on first use: `make run`'s own
    broker and database passwords, never a deployment's (those come from env_secret)."""
    with contextlib.suppress(FileNotFoundError):
        existing = path.read_text().strip()
        if existing:
            return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = generate()
    # O_EXCL: two processes starting together agree on one secret (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret
