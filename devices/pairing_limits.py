"""How many wrong pairing codes and factory keys a source may send: counted per source only.

A source is an IPv4 address or an IPv6 /64, from the address ``virtualward/client_ip.py`` finds
(forwarded headers only from trusted proxies). Nothing is counted per code or per serial: a
count kept on the thing guessed would let a stranger lock a patient out of their own live code.
The code's 31^8 values are what a guesser spread over many addresses is up against
(docs/pairing.md has the arithmetic). Counts live in the Django cache (Redis in production).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from virtualward.client_ip import source_key

FAILURE_WINDOW_S = 10 * 60


def _limit_key(client_ip: str | None) -> str | None:
    source = source_key(client_ip or "")
    return f"vw:pairing:fail:src:{source}" if source else None


def source_over_limit(client_ip: str | None) -> bool:
    key = _limit_key(client_ip)
    return key is not None and int(cache.get(key, 0)) >= settings.VW_PAIRING_MAX_FAILURES


def source_failed(client_ip: str | None) -> None:
    key = _limit_key(client_ip)
    if key is None:
        return
    # Fixed window from the first failure: add() starts it, incr() counts within it.
    cache.add(key, 0, timeout=FAILURE_WINDOW_S)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=FAILURE_WINDOW_S)
