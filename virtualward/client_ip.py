"""The address a request came from, trusting forwarded headers only from our own proxies.

``X-Forwarded-For`` is written by whoever sends the request, so it means something only when
the hop that sent it to us is a proxy we run (``VW_TRUSTED_PROXIES``, CIDRs; none by default).
Then the client is the right-most address in the header that is not one of those proxies:
everything to its left was written by the client itself and is ignored. Rate limits (pairing,
log-in) key on :func:`source_key`, which groups an IPv6 client by its /64, the block one
household or phone is given, so a guesser cannot take a fresh limit from each of its addresses.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def trusted_networks() -> tuple[Network, ...]:
    return _networks(tuple(settings.VW_TRUSTED_PROXIES))


def _address(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def _is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    return address is not None and any(address in network for network in trusted_networks())


def client_ip(request: Any) -> str:
    """The client's address: REMOTE_ADDR, or the forwarded address when a trusted proxy sent it."""
    meta = request.META
    remote = meta.get("REMOTE_ADDR", "") or ""
    if not _is_trusted(_address(remote)):
        return remote
    hops = [hop.strip() for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # a mangled header: count the request against the proxy, never trust it
        if not _is_trusted(address):
            return str(address)
    return remote


def source_key(ip: str) -> str:
    """What a per-source limit counts: the IPv4 address, or the IPv6 /64 it belongs to."""
    address = _address(ip or "")
    if address is None:
        return ip or ""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
