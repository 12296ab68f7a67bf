"""Store a parsed batch in one transaction: the idempotency record, observations, rejections.

Round trips per batch, whatever its size: one device look-up, one insert of the idempotency
records that reports which were new, one ``COPY`` of observations, one insert of rejections, and
only when needed one re-read of stored outcomes (duplicates) and one of fall observations.

Rows to insert are plain slotted records, not model instances: building a Django model runs
its field defaults and signals machinery, and at four readings a message that was the largest
single cost of a batch.
"""

from __future__ import annotations

import functools
import json
import operator
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from devices.ingest.messages import Outcome, Parsed
from devices.ingest.reuse import REUSED_MSG_ID
from devices.models import Device, IngestRejection, ReceivedMessage
from devices.protocol import ItemRejection, ack_payload, ack_topic
from patients.models import Observation
from virtualward.binary_rows import fetch_binary

EXCERPT_CHARS = 200
INSERT_CHUNK = 500  # rows per INSERT: 3000 parameters, inside every SQLite build's limit


@dataclass(frozen=True, slots=True)
class DeviceRef:
    pk: int
    patient_id: int | None
    ward_id: int | None
    revoked: bool
    # What scoring needs to decide how soon the patient's NEWS2 must be recomputed.
    spo2_scale: int = 1
    risk: str | None = None  # the patient's current NEWS2 risk; None before the first score
    # The current score's sub-scores as stored (JSON text or dict); read with current_sub_scores,
    # only for the patients whose rescoring may wait, not for every device of every batch.
    sub_scores: dict | str | None = None
    score_id: int | None = None  # the current score's id: a stored score never changes

    def current_sub_scores(self) -> dict[str, int | None] | None:
        """What each parameter scores in the patient's current score (shared: do not modify).

        Parsed once per score: a score row is never changed once stored (a new score is a new
        row), and a ward's patients keep theirs for many batches.
        """
        if self.score_id is not None and self.score_id in _SUB_SCORES:
            return _SUB_SCORES[self.score_id]
        stored = json.loads(self.sub_scores) if isinstance(self.sub_scores, str) else self.sub_scores
        scores = (
            {name: sub.get("score") for name, sub in stored.items() if isinstance(sub, dict)}
            if isinstance(stored, dict) and stored
            else None
        )
        if self.score_id is not None:
            if len(_SUB_SCORES) >= _SUB_SCORES_KEPT:
                _SUB_SCORES.clear()
            _SUB_SCORES[self.score_id] = scores
        return scores


# Parsed sub-scores by score id (DeviceRef.current_sub_scores); a ward's worth and more.
_SUB_SCORES: dict[int, dict[str, int | None] | None] = {}
_SUB_SCORES_KEPT = 10_000


@dataclass(slots=True)
class NewObservation:
    """An observation row to insert; attribute names are Observation's column attnames."""

    patient_id: int
    type: str
    value: float | None
    code: str
    unit: str
    measured_at: datetime
    received_at: datetime
    device_id: int
    msg_id: str
    msg_index: int
    is_late: bool


@dataclass(slots=True)
class BatchWork:
    """Rows to write and facts for the other apps, gathered while walking the batch."""

    outcomes: list[Outcome | None]
    observations: list[NewObservation] = field(default_factory=list)
    rejections: list[IngestRejection] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (position, device pk)
    statuses: list[tuple[int, int, Parsed]] = field(default_factory=list)  # (position, device pk, msg)
    contacts: dict[int, datetime] = field(default_factory=dict)
    contact_positions: dict[int, int] = field(default_factory=dict)  # device pk -> last obs position
    batteries: dict[int, tuple[int, datetime]] = field(default_factory=dict)


# --- devices ------------------------------------------------------------------------------------


def load_devices(refs: Iterable[str]) -> dict[str, DeviceRef]:
    """Read fresh, never cached: a revocation or re-pairing must apply to the very next batch."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    if connection.vendor == "postgresql":
        # The same query as below, written out: compiling the ORM query cost about a millisecond
        # of the worker's time in every batch, whatever its size.
        rows = fetch_binary(_DEVICES_SQL, [wanted])
    else:
        rows = Device.objects.filter(device_id__in=wanted).order_by().values_list(
            "device_id", "pk", "patient_id", "patient__ward_id", "revoked_at", "patient__spo2_scale",
            "patient__current_score__risk", "patient__current_score__sub_scores", "patient__current_score_id",
        )
    return {
        ref: DeviceRef(pk, patient, ward, revoked is not None, scale or 1, risk, subs, score_id)
        for ref, pk, patient, ward, revoked, scale, risk, subs, score_id in rows
    }


_DEVICES_SQL = """
    SELECT d.device_id, d.id, d.patient_id, p.ward_id, d.revoked_at, p.spo2_scale, s.risk, s.sub_scores::text,
        p.current_score_id
    FROM devices_device d
    LEFT JOIN patients_patient p ON p.id = d.patient_id
    LEFT JOIN scoring_earlywarningscore s ON s.id = p.current_score_id
    WHERE d.device_id = ANY(%s)
"""


def refusal_of(parsed: Parsed, device: DeviceRef | None) -> str | None:
    """Why a message is dropped before its content counts, or None."""
    if parsed.channel is None or (parsed.error and parsed.channel not in ("obs", "status")):
        return parsed.error
    if device is None:
        return f"device {parsed.device_ref!r} is not registered"[:300]
    if device.revoked:
        return "device is revoked"
    if device.patient_id is None:
        return "device is not paired with a patient"
    return None


# --- rows ---------------------------------------------------------------------------------------


def excerpt(payload: bytes) -> str:
    # PostgreSQL text cannot hold NUL; undecodable bytes become U+FFFD rather than an error.
    return payload[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")[:EXCERPT_CHARS].replace("\x00", "\ufffd")


def whole_rejection(parsed: Parsed, device: DeviceRef | None, reason: str) -> IngestRejection:
    incoming = parsed.incoming
    return IngestRejection(
        device_id=device.pk if device else None,
        device_ref=parsed.device_ref[:200],
        topic=incoming.topic[:300].replace("\x00", "\ufffd"),
        msg_id=parsed.msg_id or "",
        index=None,
        reason=reason[:300],
        received_at=incoming.received_at,
        excerpt=excerpt(incoming.payload),
    )


def network_rejections(parsed: Parsed, device: DeviceRef) -> list[IngestRejection]:
    """A status's dropped network fields, each with its reason; the status itself was accepted.

    No excerpt: the payload may hold the cell id, which is personal data.
    """
    if parsed.status is None:
        return []
    incoming = parsed.incoming
    return [
        IngestRejection(
            device_id=device.pk,
            device_ref=parsed.device_ref[:200],
            topic=incoming.topic[:300],
            reason=reason[:300],
            received_at=incoming.received_at,
        )
        for reason in parsed.status.network_rejections
    ]


def item_rejections(parsed: Parsed, device: DeviceRef) -> list[IngestRejection]:
    assert parsed.obs is not None
    return [
        IngestRejection(
            device_id=device.pk,
            device_ref=parsed.device_ref[:200],
            topic=parsed.incoming.topic[:300],
            msg_id=parsed.obs.msg_id,
            index=item.index,
            reason=item.reason[:300],
            received_at=parsed.incoming.received_at,
        )
        for item in parsed.obs.rejections
    ]


def observations_of(parsed: Parsed, device: DeviceRef) -> list[NewObservation]:
    assert parsed.obs is not None and device.patient_id is not None
    received_at = parsed.incoming.received_at
    late_after = timedelta(seconds=settings.VW_LATE_READING_SECONDS)
    msg_id, patient_id, device_id = parsed.obs.msg_id, device.patient_id, device.pk
    return [
        NewObservation(
            patient_id,
            item.type,
            item.value,
            item.code or "",
            item.unit,
            item.measured_at,
            received_at,
            device_id,
            msg_id,
            item.index,
            # Store-and-forward readings keep their own time; the flag tells scoring and the
            # dashboard that they are history arriving now, not an event happening now.
            received_at - item.measured_at > late_after,
        )
        for item in parsed.obs.observations
    ]


# --- observations ---------------------------------------------------------------------------------

_OBSERVATION_COLUMNS = tuple(NewObservation.__slots__)


def insert_observations(observations: Sequence[NewObservation]) -> None:
    """Insert a batch's observations.

    On PostgreSQL one binary ``COPY``: psycopg writes each row in C, where an ``INSERT`` had
    every value of every row quoted into the statement in Python (18 µs a row against about
    1 µs, measured with 800-row batches). ``COPY`` has no ``ON CONFLICT``, and needs none: a
    message's observations are only inserted by the transaction whose idempotency record for
    it was new (:func:`insert_received`), so a redelivery never reaches this point. The unique
    constraint on (device, msg_id, index) still stands behind that: a violation fails the batch,
    and the worker then stores its messages one by one, so one bad message never costs the
    others. Elsewhere (SQLite) ``bulk_create`` does the same job.
    """
    if not observations:
        return
    if connection.vendor != "postgresql":
        Observation.objects.bulk_create(
            [Observation(**{name: getattr(row, name) for name in _OBSERVATION_COLUMNS}) for row in observations],
            ignore_conflicts=True,
            batch_size=INSERT_CHUNK,
        )
        return
    table, columns, types = _copy_target()
    values = operator.attrgetter(*_OBSERVATION_COLUMNS)
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(types)
        for row in observations:
            copy.write_row(values(row))


@functools.cache
def _copy_target() -> tuple[str, str, list[str]]:
    """The quoted table, its quoted columns and their PostgreSQL type names for a binary COPY."""
    meta = Observation._meta
    by_attname = {field.attname: field for field in meta.concrete_fields}
    fields = [by_attname[name] for name in _OBSERVATION_COLUMNS]
    quote = connection.ops.quote_name
    return quote(meta.db_table), ", ".join(quote(field.column) for field in fields), _copy_types(fields)


def _copy_types(fields: Sequence) -> list[str]:
    # A binary COPY names each column's type; "varchar(64)" is "varchar" to psycopg.
    return [field.cast_db_type(connection).split("(")[0] for field in fields]


# --- the idempotency record -----------------------------------------------------------------------

_RECEIVED_COLUMNS = ("device", "msg_id", "received_at", "sent_at", "accepted", "rejected")
# A session-private staging table for the idempotency records (PostgreSQL only).
_RECEIVED_STAGE = "vw_ingest_received_stage"
# Raw connections whose staging table was created by a committed transaction.
_staged_connections: weakref.WeakSet = weakref.WeakSet()


def insert_received(rows: Sequence[NewReceipt]) -> set[tuple[int, str]]:
    """Insert the rows that are new and return their (device pk, msg_id).

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL, SQLite >= 3.35) answers
    "which of these were mine" exactly, even when another ingest process inserts the same
    (device, msg_id) concurrently; ``bulk_create(ignore_conflicts=True)`` returns nothing, and
    re-reading afterwards cannot tell our row from the other process's.
    """
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        return _insert_received_staged(rows)
    created: set[tuple[int, str]] = set()
    table, fields = _received_target()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_marks] * len(chunk))} "  # noqa: S608 - only quoted model column names are interpolated
            "ON CONFLICT DO NOTHING RETURNING device_id, msg_id"
        )
        params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in chunk for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            created.update((int(device_pk), msg_id) for device_pk, msg_id in cursor.fetchall())
    return created


def _insert_received_staged(rows: Sequence[NewReceipt]) -> set[tuple[int, str]]:
    """PostgreSQL: ``COPY`` the rows into a temporary table, then move the new ones across.

    A multi-row ``VALUES`` statement is parsed and quoted in Python by psycopg (about 25 µs a
    message, most of it splitting a statement with a thousand placeholders); a binary ``COPY``
    costs a few. The move is one statement: it empties the staging table and inserts from it.
    """
    table, fields = _received_target()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        _ensure_received_stage(cursor, fields)
        with cursor.copy(f"COPY {_RECEIVED_STAGE} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_copy_types(fields))
            values = operator.attrgetter(*(f.attname for f in fields))
            for row in rows:
                copy.write_row(values(row))
        cursor.execute(
            f"WITH staged AS (DELETE FROM {_RECEIVED_STAGE} RETURNING {columns}) "  # noqa: S608 - fixed names only
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM staged "
            "ON CONFLICT DO NOTHING RETURNING device_id, msg_id"
        )
        return {(int(device_pk), msg_id) for device_pk, msg_id in cursor.fetchall()}


def _ensure_received_stage(cursor, fields: list) -> None:
    raw = connection.connection
    if raw in _staged_connections:
        return
    # Created inside the batch's transaction, so a rollback removes it again: the connection
    # is only remembered once a transaction that created it has committed.
    definition = ", ".join(f"{connection.ops.quote_name(f.column)} {f.cast_db_type(connection)}" for f in fields)
    cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_RECEIVED_STAGE} ({definition})")
    transaction.on_commit(lambda: _staged_connections.add(raw))


@functools.cache
def _received_target() -> tuple[str, list]:
    meta = ReceivedMessage._meta
    return connection.ops.quote_name(meta.db_table), [meta.get_field(name) for name in _RECEIVED_COLUMNS]


@dataclass(slots=True)
class NewReceipt:
    """An idempotency record to insert; attribute names are ReceivedMessage's column attnames."""

    device_id: int
    msg_id: str
    received_at: datetime
    sent_at: datetime | None
    accepted: int
    rejected: int


def received_row(parsed: Parsed, device: DeviceRef) -> NewReceipt:
    obs = parsed.obs
    assert parsed.msg_id is not None
    return NewReceipt(
        device.pk,
        parsed.msg_id,
        parsed.incoming.received_at,
        obs.sent_at if obs else None,
        len(obs.observations) if obs else 0,
        len(obs.rejections) if obs else 0,
    )


# --- answers ----------------------------------------------------------------------------------------


def reply_to(parsed: Parsed, accepted: int, rejections: Sequence[ItemRejection], error: str | None) -> Outcome:
    return Outcome(
        incoming=parsed.incoming,
        reply_topic=ack_topic(parsed.device_ref),
        reply=ack_payload(parsed.msg_id, accepted, rejections, error),
        accepted=accepted,
        rejected=len(rejections),
        error=error,
    )


def stored_outcomes(keys: set[tuple[int, str]]) -> dict[tuple[int, str], tuple[int, list[ItemRejection], str | None]]:
    """The outcome first stored for each (device pk, msg_id), to answer a redelivery the same."""
    if not keys:
        return {}
    device_pks = {pk for pk, _ in keys}
    msg_ids = {msg_id for _, msg_id in keys}
    receipts = {
        (pk, msg_id): (count, at)
        for pk, msg_id, count, at in ReceivedMessage.objects.filter(device_id__in=device_pks, msg_id__in=msg_ids)
        .values_list("device_id", "msg_id", "accepted", "received_at")
        if (pk, msg_id) in keys
    }
    accepted = {key: count for key, (count, _) in receipts.items()}
    items: dict[tuple[int, str], list[ItemRejection]] = {key: [] for key in keys}
    whole: dict[tuple[int, str], str] = {}
    rows = (
        IngestRejection.objects.filter(device_id__in=device_pks, msg_id__in=msg_ids)
        .exclude(index__isnull=True, reason=REUSED_MSG_ID)  # a later device fault, not this answer
        .order_by("id")
    )
    if receipts:
        # A message's rejections were written with its receipt, at its received_at: bounded on the
        # partition key (history.partitions), a replay reads only the months since the first copy.
        rows = rows.filter(received_at__gte=min(at for _, at in receipts.values()))
    for pk, msg_id, index, reason in rows.values_list("device_id", "msg_id", "index", "reason"):
        key = (pk, msg_id)
        if key not in keys:
            continue
        if index is None:
            whole[key] = reason  # the latest whole-message reason wins
        else:
            items[key].append(ItemRejection(index=index, reason=reason))
    return {
        key: (
            accepted.get(key, 0),
            sorted(items[key], key=lambda item: item.index),
            whole.get(key) if accepted.get(key, 0) == 0 and not items[key] else None,
        )
        for key in keys
    }
