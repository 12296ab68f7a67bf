"""Store a parsed batch in one transaction: the idempotency record, observations, rejections.

Round trips per batch, whatever its size: one device look-up, one insert of the idempotency
records that reports which were new, one insert of observations, one of rejections, and only
when needed one re-read of stored outcomes (duplicates) and one of fall observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from devices.ingest.messages import Outcome, Parsed
from devices.models import Device, IngestRejection, ReceivedMessage
from devices.protocol import ItemRejection, ack_payload, ack_topic
from patients.models import Observation

EXCERPT_CHARS = 200
INSERT_CHUNK = 500  # rows per INSERT: 3000 parameters, inside every SQLite build's limit


@dataclass(frozen=True, slots=True)
class DeviceRef:
    pk: int
    patient_id: int | None
    ward_id: int | None
    revoked: bool


@dataclass(slots=True)
class BatchWork:
    """Rows to write and facts for the other apps, gathered while walking the batch."""

    outcomes: list[Outcome | None]
    observations: list[Observation] = field(default_factory=list)
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
    rows = Device.objects.filter(device_id__in=wanted).values_list(
        "device_id", "pk", "patient_id", "patient__ward_id", "revoked_at"
    )
    return {ref: DeviceRef(pk, patient, ward, revoked is not None) for ref, pk, patient, ward, revoked in rows}


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


def observations_of(parsed: Parsed, device: DeviceRef) -> list[Observation]:
    assert parsed.obs is not None and device.patient_id is not None
    received_at = parsed.incoming.received_at
    late_after = timedelta(seconds=settings.VW_LATE_READING_SECONDS)
    return [
        Observation(
            patient_id=device.patient_id,
            type=item.type,
            value=item.value,
            code=item.code or "",
            unit=item.unit,
            measured_at=item.measured_at,
            received_at=received_at,
            device_id=device.pk,
            msg_id=parsed.obs.msg_id,
            msg_index=item.index,
            # Store-and-forward readings keep their own time; the flag tells scoring and the
            # dashboard that they are history arriving now, not an event happening now.
            is_late=received_at - item.measured_at > late_after,
        )
        for item in parsed.obs.observations
    ]


# --- observations ---------------------------------------------------------------------------------

_OBSERVATION_COLUMNS = (
    "patient",
    "type",
    "value",
    "code",
    "unit",
    "measured_at",
    "received_at",
    "device",
    "msg_id",
    "msg_index",
    "is_late",
)


def insert_observations(observations: Sequence[Observation]) -> None:
    """Insert a batch's observations; a row already stored (same device, msg_id, index) is skipped.

    On PostgreSQL one ``INSERT ... SELECT FROM unnest(<one array per column>)``: the statement
    stays the same size whatever the batch, and psycopg adapts each column's values directly,
    where ``bulk_create`` compiles every value of every row through the ORM (a quarter of the
    ingest worker's time at 1,000 msg/s). Elsewhere ``bulk_create`` does the same job.
    """
    if not observations:
        return
    if connection.vendor != "postgresql":
        Observation.objects.bulk_create(observations, ignore_conflicts=True, batch_size=INSERT_CHUNK)
        return
    meta = Observation._meta
    fields = [meta.get_field(name) for name in _OBSERVATION_COLUMNS]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    arrays = ", ".join(f"%s::{f.cast_db_type(connection)}[]" for f in fields)
    # Plain attribute values: ints, floats, strings, booleans and aware datetimes, which psycopg
    # adapts exactly as the fields' get_db_prep_save would on PostgreSQL.
    params = [[getattr(row, f.attname) for row in observations] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays}) "  # noqa: S608 - only quoted model column names are interpolated
            "ON CONFLICT DO NOTHING",
            params,
        )


# --- the idempotency record -----------------------------------------------------------------------

_RECEIVED_COLUMNS = ("device", "msg_id", "received_at", "sent_at", "accepted", "rejected")


def insert_received(rows: Sequence[ReceivedMessage]) -> set[tuple[int, str]]:
    """Insert the rows that are new and return their (device pk, msg_id).

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL, SQLite >= 3.35) answers
    "which of these were mine" exactly, even when another ingest process inserts the same
    (device, msg_id) concurrently; ``bulk_create(ignore_conflicts=True)`` returns nothing, and
    re-reading afterwards cannot tell our row from the other process's.
    """
    created: set[tuple[int, str]] = set()
    meta = ReceivedMessage._meta
    fields = [meta.get_field(name) for name in _RECEIVED_COLUMNS]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    row_marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row_marks] * len(chunk))} "  # noqa: S608 - only quoted model column names are interpolated
            f"ON CONFLICT DO NOTHING RETURNING {quote('device_id')}, {quote('msg_id')}"
        )
        params = [f.get_db_prep_save(getattr(row, f.attname), connection) for row in chunk for f in fields]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            created.update((int(device_pk), msg_id) for device_pk, msg_id in cursor.fetchall())
    return created


def received_row(parsed: Parsed, device: DeviceRef) -> ReceivedMessage:
    obs = parsed.obs
    return ReceivedMessage(
        device_id=device.pk,
        msg_id=parsed.msg_id,
        received_at=parsed.incoming.received_at,
        sent_at=obs.sent_at if obs else None,
        accepted=len(obs.observations) if obs else 0,
        rejected=len(obs.rejections) if obs else 0,
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
    accepted = {
        (pk, msg_id): count
        for pk, msg_id, count in ReceivedMessage.objects.filter(device_id__in=device_pks, msg_id__in=msg_ids)
        .values_list("device_id", "msg_id", "accepted")
        if (pk, msg_id) in keys
    }
    items: dict[tuple[int, str], list[ItemRejection]] = {key: [] for key in keys}
    whole: dict[tuple[int, str], str] = {}
    rows = IngestRejection.objects.filter(device_id__in=device_pks, msg_id__in=msg_ids).order_by("id")
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
