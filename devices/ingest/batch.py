"""The pure entry point of ingest: a batch of raw messages in, their committed outcomes out.

No MQTT here: the worker acknowledges each message only after :func:`handle_batch` returns,
i.e. after the transaction that holds its outcome has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction

from devices.ingest import effects
from devices.ingest.messages import Incoming, Outcome, Parsed, parse_incoming
from devices.ingest.reuse import REUSED_MSG_ID, content_of, same_readings, stored_contents
from devices.ingest.store import (
    BatchWork,
    DeviceRef,
    NewObservation,
    insert_observations,
    insert_received,
    item_rejections,
    load_devices,
    network_rejections,
    observations_of,
    received_row,
    refusal_of,
    reply_to,
    stored_outcomes,
    whole_rejection,
)
from devices.models import IngestRejection
from frontend.events import publish
from patients.models import Observation, VitalType
from scoring.news2 import Risk

logger = logging.getLogger(__name__)


def handle_message(topic: str, payload: bytes, received_at: datetime, *, retained: bool = False) -> Outcome:
    """One message as a batch of one: the convenience door for tests and tools."""
    return handle_batch([Incoming(topic, payload, received_at, retained)])[0]


def handle_batch(messages: Sequence[Incoming]) -> list[Outcome]:
    """Parse, then store every message's outcome in one transaction; outcomes in input order."""
    parsed = [parse_incoming(message) for message in messages]
    with transaction.atomic():
        devices = load_devices(p.device_ref for p in parsed if p.device_ref)
        work = BatchWork(outcomes=[None] * len(parsed))
        candidates = _sort_out(parsed, devices, work)
        _store_obs(parsed, devices, candidates, work)
        # Before the replay: a repeat later in this very batch is answered from these rows too.
        IngestRejection.objects.bulk_create(work.rejections, ignore_conflicts=True)
        reuses = _replay_duplicates(parsed, devices, work)
        if reuses:
            IngestRejection.objects.bulk_create(reuses)
        _tell_other_apps(parsed, devices, work)
    return [outcome for outcome in work.outcomes if outcome is not None]


def _sort_out(parsed: list[Parsed], devices: dict[str, DeviceRef], work: BatchWork) -> list[int]:
    """Settle refusals, whole-message rejections and status; return the obs positions to store."""
    candidates = []
    for position, message in enumerate(parsed):
        device = devices.get(message.device_ref)
        refusal = refusal_of(message, device)
        if refusal is not None:
            work.rejections.append(whole_rejection(message, device, refusal))
            # Every obs gets an ack, even from an unknown id: the sender learns why nothing was kept.
            work.outcomes[position] = reply_to(message, 0, [], refusal) if message.is_obs else Outcome(
                message.incoming, error=refusal
            )
            continue
        assert device is not None
        if message.is_obs:
            _note_contact(message, device, position, work)
        if message.is_obs and message.msg_id is not None:
            candidates.append(position)
        elif message.error is not None:
            work.rejections.append(whole_rejection(message, device, message.error))
            work.outcomes[position] = reply_to(message, 0, [], message.error) if message.is_obs else Outcome(
                message.incoming, error=message.error
            )
        else:
            _note_status(message, device, position, work)
    return candidates


def _note_contact(message: Parsed, device: DeviceRef, position: int, work: BatchWork) -> None:
    # Any obs, even a malformed one, proves the device is alive and connected.
    at = message.incoming.received_at
    work.contacts[device.pk] = max(at, work.contacts.get(device.pk, at))
    work.contact_positions[device.pk] = position


def _note_status(message: Parsed, device: DeviceRef, position: int, work: BatchWork) -> None:
    if message.incoming.retained:
        # A retained status is the broker replaying an old state on (re)subscribe: it carries no
        # time of its own, and taking it as news would make a silent device look heard from now.
        work.outcomes[position] = Outcome(message.incoming, error="retained status replay ignored")
        return
    work.statuses.append((position, device.pk, message))
    work.outcomes[position] = Outcome(message.incoming)
    work.rejections.extend(network_rejections(message, device))


def _store_obs(parsed: list[Parsed], devices: dict[str, DeviceRef], candidates: list[int], work: BatchWork) -> None:
    rows = [received_row(parsed[p], devices[parsed[p].device_ref]) for p in candidates]
    created = insert_received(rows)
    claimed: set[tuple[int, str]] = set()
    for position in candidates:
        message = parsed[position]
        device = devices[message.device_ref]
        key = (device.pk, message.msg_id or "")
        if key not in created or key in claimed:
            # Stored before, or earlier in this very batch: answered from what was stored.
            work.duplicates.append((position, device.pk))
            continue
        claimed.add(key)
        work.outcomes[position] = _store_new(message, device, work)
    # Only messages whose idempotency record was new reach here (see insert_observations).
    insert_observations(work.observations)


def _store_new(message: Parsed, device: DeviceRef, work: BatchWork) -> Outcome:
    if message.obs is None:
        assert message.error is not None
        work.rejections.append(whole_rejection(message, device, message.error))
        return reply_to(message, 0, [], message.error)
    work.observations.extend(observations_of(message, device))
    work.rejections.extend(item_rejections(message, device))
    if message.obs.battery is not None:
        at = message.incoming.received_at
        if device.pk not in work.batteries or work.batteries[device.pk][1] <= at:
            work.batteries[device.pk] = (message.obs.battery, at)
    return reply_to(message, len(message.obs.observations), message.obs.rejections, None)


def _replay_duplicates(parsed: list[Parsed], devices: dict[str, DeviceRef], work: BatchWork) -> list[IngestRejection]:
    """Answer each repeat with its stored ack, or refuse it if it reuses the msg_id; the refusals."""
    keys = {(pk, parsed[position].msg_id or "") for position, pk in work.duplicates}
    stored = stored_outcomes(keys)
    first_copies = stored_contents(keys)
    reuses: list[IngestRejection] = []
    for position, pk in work.duplicates:
        message = parsed[position]
        key = (pk, message.msg_id or "")
        if not same_readings(first_copies[key], content_of(message)):
            reuses.append(whole_rejection(message, devices[message.device_ref], REUSED_MSG_ID))
            work.outcomes[position] = reply_to(message, 0, [], REUSED_MSG_ID)
            continue
        accepted, rejections, error = stored[key]
        outcome = reply_to(message, accepted, rejections, error)
        work.outcomes[position] = Outcome(
            outcome.incoming, outcome.reply_topic, outcome.reply, accepted, len(rejections), True, error
        )
    return reuses


def _tell_other_apps(parsed: list[Parsed], devices: dict[str, DeviceRef], work: BatchWork) -> None:
    readings: dict[int, datetime] = {}
    for observation in work.observations:
        newest = readings.get(observation.device_id)
        readings[observation.device_id] = max(observation.measured_at, newest or observation.measured_at)
    # A device's status and its obs in the same batch are applied in arrival order, so a Last
    # Will that came after its final reading leaves it offline, and a reconnect the other way.
    before = [s for s in work.statuses if s[0] < work.contact_positions.get(s[1], -1)]
    after = [s for s in work.statuses if s[0] >= work.contact_positions.get(s[1], -1)]
    _apply_statuses(before)
    if work.contacts:
        effects.record_contact(contacts=work.contacts, readings=readings, batteries=work.batteries)
    _apply_statuses(after)
    if work.observations:
        _request_rescore(devices, work.observations)
        _raise_falls(work.observations)
        _publish_observations(devices, work.observations)


def _apply_statuses(statuses: list[tuple[int, int, Parsed]]) -> None:
    for _, device_pk, message in statuses:
        assert message.status is not None
        effects.record_status(
            device_pk=device_pk,
            state=message.status.state,
            battery=message.status.battery,
            at=message.incoming.received_at,
        )
        if message.status.network is not None:
            effects.record_network(device_pk=device_pk, network=message.status.network, at=message.incoming.received_at)


def _request_rescore(devices: dict[str, DeviceRef], observations: list[NewObservation]) -> None:
    """Hand scoring each patient's new readings; it decides how soon each must be rescored."""
    readings: dict[int, list[tuple[str, float | None, str]]] = {}
    for observation in observations:
        readings.setdefault(observation.patient_id, []).append((observation.type, observation.value, observation.code))
    patients = {device.patient_id: device for device in devices.values() if device.patient_id in readings}
    effects.request_rescore_after_readings(
        readings,
        spo2_scales={pid: device.spo2_scale for pid, device in patients.items()},
        current_risks={pid: device.risk for pid, device in patients.items()},
        # Only a low-risk patient's rescoring can wait, so only theirs are read (scoring.urgency).
        current_sub_scores={
            pid: device.current_sub_scores() for pid, device in patients.items() if device.risk == Risk.LOW
        },
    )


def _raise_falls(observations: list[NewObservation]) -> None:
    falls = {(o.device_id, o.msg_id, o.msg_index) for o in observations if o.type == VitalType.FALL_DETECTED}
    if not falls:
        return
    # bulk_create with ignore_conflicts leaves primary keys unset, so the new falls are re-read.
    times = [o.measured_at for o in observations if o.type == VitalType.FALL_DETECTED]
    # Bounded by the partition key: only the months the new falls were measured in are read.
    stored = Observation.objects.in_window(min(times), max(times) + timedelta(microseconds=1)).filter(
        type=VitalType.FALL_DETECTED,
        device_id__in={key[0] for key in falls},
        msg_id__in={key[1] for key in falls},
    ).values_list("pk", "patient_id", "measured_at", "device_id", "msg_id", "msg_index")
    for pk, patient_id, measured_at, device_id, msg_id, msg_index in stored:
        if (device_id, msg_id, msg_index) in falls:
            effects.alert_fall_detected(patient_id=patient_id, observation_id=pk, measured_at=measured_at)


def _publish_observations(devices: dict[str, DeviceRef], observations: list[NewObservation]) -> None:
    """One event per ward for its boards and one per patient for the patient's page.

    A board only re-reads its snapshot on news, so one event naming the batch's patients does;
    one event per patient to the ward and command-centre groups cost ingest a thread's worth of
    sends at high rates, and every listening dashboard the decoding of each.
    """
    wards = {device.patient_id: device.ward_id for device in devices.values() if device.patient_id}
    per_patient: dict[int, list[NewObservation]] = {}
    for observation in observations:
        per_patient.setdefault(observation.patient_id, []).append(observation)
    per_ward: dict[int, dict[str, dict]] = {}
    for patient_id, items in per_patient.items():
        ward_id = wards.get(patient_id)
        if ward_id is None:
            continue
        summary = {
            "count": len(items),
            "late": sum(1 for o in items if o.is_late),
            "newest_measured_at": max(o.measured_at for o in items).isoformat(),
        }
        per_ward.setdefault(ward_id, {})[str(patient_id)] = summary
        publish("observations.recorded", ward_id=ward_id, patient_id=patient_id, data=summary, patient_only=True)
    for ward_id, patients in per_ward.items():
        publish("observations.recorded", ward_id=ward_id, data={"patients": patients})
