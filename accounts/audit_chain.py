"""The audit trail's hash chain: append events as links, and verify the links.

Each event stores ``prev_hash`` (the previous event's ``hash``) and ``hash`` =
SHA-256(prev_hash + "\\n" + canonical content). Changing, removing or inserting a row anywhere
breaks the chain at that row, which :func:`audit_chain_verify` reports. Removing rows from the
*end* (or the whole table) leaves a shorter chain that is still whole: that is caught by
comparing with a head recorded earlier elsewhere (``audit_verify --anchor SEQ:HASH``).

Appending is serialized so two writers never link to the same predecessor: on PostgreSQL a
transaction-level advisory lock, held until the appending transaction commits or rolls back;
on SQLite every write transaction is already exclusive (``transaction_mode = IMMEDIATE``).
``seq`` is unique, so a writer that somehow got past the lock fails instead of forking.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from accounts.models import AuditEvent

GENESIS = "0" * 64
# pg_advisory_xact_lock key: any constant the platform uses for nothing else ("audit" in ASCII).
ADVISORY_LOCK_KEY = 0x6175646974


def json_normalised(value: Any) -> Any:
    """``value`` as it reads back from a JSON column, so the hash of what was stored can be redone.

    Tuples become lists and unknown types their text (as json would refuse them); a float with an
    integral value becomes an int because PostgreSQL's jsonb gives ``1e16`` back as ``10000000000000000``.
    """
    return _integral_floats(json.loads(json.dumps(value, default=str)))


def _integral_floats(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats(item) for key, item in value.items()}
    return value


def canonical_content(event: AuditEvent) -> bytes:
    """The event's content as one deterministic byte string (sorted keys, UTC, no spaces)."""
    content = {
        "seq": event.seq,
        "at": event.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor": event.actor_id,
        "action": event.action,
        "patient": event.patient_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "route": event.route,
        "detail": _integral_floats(event.detail),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def link_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical_content(event)).hexdigest()


def audit_chain_append(events: list[AuditEvent]) -> list[AuditEvent]:
    """Insert ``events`` (unsaved) as the next links of the chain, in order, in one statement."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = head or (0, GENESIS)
        for event in events:
            seq += 1
            event.seq, event.prev_hash = seq, prev_hash
            event.hash = prev_hash = link_hash(prev_hash, event)
        return AuditEvent.objects.bulk_create(events)


@dataclass(frozen=True)
class ChainReport:
    count: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None  # seq of the first bad link
    event_id: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def parse_anchor(raw: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by ``audit_verify``."""
    seq, _, digest = raw.partition(":")
    if not seq.isdigit() or int(seq) < 1 or len(digest) != 64 or not set(digest) <= set("0123456789abcdef"):
        raise ValueError(f"anchor {raw!r} must be SEQ:HASH, e.g. 42:{'ab' * 32}")
    return int(seq), digest


def audit_chain_verify(*, anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk the chain from its first link; report the first broken one, or the head if all hold."""
    expected_seq, prev_hash, count = 1, GENESIS, 0
    events = _events_in_chain_order()
    try:
        for event in events:
            problem = _link_problem(event, expected_seq, prev_hash, anchor)
            if problem:
                return ChainReport(count, expected_seq - 1, prev_hash, event.seq, event.pk, problem)
            expected_seq, prev_hash, count = event.seq + 1, event.hash, count + 1
    finally:
        # Stopping early leaves a server-side cursor open on PostgreSQL: close it now, not
        # whenever the garbage collector gets to it (inside some later transaction).
        events.close()
    if anchor is not None and anchor[0] >= expected_seq:
        problem = f"the chain ends at seq {expected_seq - 1}, before the anchor's seq {anchor[0]}: events removed"
        return ChainReport(count, expected_seq - 1, prev_hash, expected_seq, None, problem)
    return ChainReport(count, expected_seq - 1, prev_hash)


def _events_in_chain_order() -> Generator[AuditEvent, None, None]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=2000)


def _link_problem(event: AuditEvent, expected_seq: int, prev_hash: str, anchor: tuple[int, str] | None) -> str:
    if event.seq != expected_seq:
        return f"seq {event.seq} follows seq {expected_seq - 1}: events {expected_seq}-{event.seq - 1} are missing"
    if event.prev_hash != prev_hash:
        return "prev_hash is not the hash of the event before it"
    if link_hash(prev_hash, event) != event.hash:
        return "the event's content no longer matches its hash (changed after it was written)"
    if anchor is not None and event.seq == anchor[0] and event.hash != anchor[1]:
        return "the event's hash differs from the anchor recorded for this seq"
    return ""
