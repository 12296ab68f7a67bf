"""The batch worker: acknowledge only committed outcomes, retry a down database, isolate poison."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from django.db import OperationalError, connection

from devices.ingest import batch as batch_module
from devices.ingest import worker as worker_module
from devices.ingest.worker import INTERNAL_ERROR_REPLY, IngestWorker
from devices.models import IngestRejection, ReceivedMessage
from devices.mqtt_transport import Received
from patients.models import Observation
from tests.ingest.conftest import obs_json

pytestmark = pytest.mark.django_db(transaction=True)


class FakeLink:
    """Stands in for the MQTT transport and checks, at each ack, that the outcome is committed."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def publish(self, topic: str, payload: bytes) -> None:
        self.events.append(("publish", json.loads(payload)))

    def ack(self, token: object) -> None:
        # Committed means: no transaction open, and the idempotency record is there to be read.
        assert not connection.in_atomic_block
        msg_id = token[1] if isinstance(token, tuple) else None
        committed = ReceivedMessage.objects.filter(msg_id=msg_id).exists() or IngestRejection.objects.exists()
        self.events.append(("ack", (token, committed)))

    @property
    def acked(self) -> list[object]:
        return [detail[0] for kind, detail in self.events if kind == "ack"]


def _received(topic: str, msg_id: str, body: bytes | None = None) -> Received:
    now = datetime.now(UTC)
    reading = {"type": "heart_rate", "value": 70, "unit": "/min", "measured_at": now.isoformat()}
    return Received(topic, body or obs_json(msg_id, reading), now, False, ("gen", msg_id, 1))


def test_a_message_is_acknowledged_only_after_its_outcome_is_committed(device, obs_at):
    # given a worker and a message
    link = FakeLink()
    worker = IngestWorker(link)

    # when it processes the message
    assert worker.process([_received(obs_at, "m-1")])

    # then the device ack went out, then the MQTT ack, and the outcome was committed by then
    assert [kind for kind, _ in link.events] == ["publish", "ack"]
    assert link.events[1][1] == (("gen", "m-1", 1), True)


def test_while_the_database_is_down_nothing_is_acknowledged_and_the_batch_is_retried(device, obs_at, monkeypatch):
    # given a database that fails twice, then recovers
    link = FakeLink()
    attempts: list[int] = []
    real = worker_module.handle_batch

    def flaky(messages):
        attempts.append(len(link.acked))
        if len(attempts) <= 2:
            raise OperationalError("connection refused")
        return real(messages)

    monkeypatch.setattr(worker_module, "handle_batch", flaky)
    worker = IngestWorker(link, retry_base_s=0.01)

    # when a batch of two is processed
    worker.process([_received(obs_at, "m-1"), _received(obs_at, "m-2")])

    # then nothing was acknowledged during the failures, and both were stored and acked after
    assert attempts == [0, 0, 0]
    assert link.acked == [("gen", "m-1", 1), ("gen", "m-2", 1)]
    assert Observation.objects.count() == 2
    assert worker.totals.retries == 2


def test_stopping_while_the_database_is_down_leaves_the_batch_for_redelivery(device, obs_at, monkeypatch):
    # given a database that stays down
    link = FakeLink()

    def down(messages):
        raise OperationalError("connection refused")

    monkeypatch.setattr(worker_module, "handle_batch", down)
    worker = IngestWorker(link, retry_base_s=0.05)
    threading.Timer(0.2, worker.stopping.set).start()

    # when the service is asked to stop during the retries
    stored = worker.process([_received(obs_at, "m-1")])

    # then the batch is neither stored nor acknowledged: the broker will redeliver it
    assert stored is False
    assert link.events == []


def test_a_poison_message_is_recorded_as_an_internal_error_and_the_others_are_stored(device, obs_at, monkeypatch):
    # given a message that makes storing fail for a reason that will not go away
    real = batch_module.observations_of

    def explode_on_poison(parsed, device_ref):
        if parsed.msg_id == "poison":
            raise ValueError("unexpected")
        return real(parsed, device_ref)

    monkeypatch.setattr(batch_module, "observations_of", explode_on_poison)
    link = FakeLink()
    worker = IngestWorker(link)

    # when it arrives between two good messages
    worker.process([_received(obs_at, "good-1"), _received(obs_at, "poison"), _received(obs_at, "good-2")])

    # then the good ones are stored, the poison one is recorded, and every one is acknowledged
    assert set(Observation.objects.values_list("msg_id", flat=True)) == {"good-1", "good-2"}
    rejection = IngestRejection.objects.get()
    assert rejection.reason == "internal error while storing msg_id 'poison'"
    assert len(link.acked) == 3
    replies = [detail for kind, detail in link.events if kind == "publish"]
    assert replies[1] == {"msg_id": "poison", "accepted": 0, "rejected": [], "error": INTERNAL_ERROR_REPLY}


def test_a_later_resend_after_an_internal_error_is_stored_normally(device, obs_at, monkeypatch):
    # given a message recorded as an internal error once
    real = batch_module.observations_of
    monkeypatch.setattr(batch_module, "observations_of", lambda parsed, ref: (_ for _ in ()).throw(ValueError()))
    IngestWorker(FakeLink()).process([_received(obs_at, "m-1")])
    monkeypatch.setattr(batch_module, "observations_of", real)

    # when the device sends it again after the fault is fixed
    link = FakeLink()
    IngestWorker(link).process([_received(obs_at, "m-1")])

    # then it is stored and accepted, not answered with the old error
    assert Observation.objects.filter(msg_id="m-1").count() == 1
    assert next(detail for kind, detail in link.events if kind == "publish")["accepted"] == 1


def test_a_batch_is_cut_at_the_batch_size(device, obs_at):
    # given more queued messages than one batch holds
    worker = IngestWorker(FakeLink(), batch_size=3, batch_wait_s=1.0)
    for n in range(5):
        worker.put(_received(obs_at, f"m-{n}"))

    # when batches are collected
    sizes = [len(worker.collect()), len(worker.collect())]

    # then the first is full and the second takes the rest without waiting out the timer
    assert sizes == [3, 2]


def test_after_stopping_new_messages_are_left_for_the_broker(device, obs_at):
    # given a worker asked to stop
    worker = IngestWorker(FakeLink())
    worker.stopping.set()

    # when a message still arrives
    worker.put(_received(obs_at, "late"))

    # then it is not taken (it stays unacknowledged in the broker's session)
    assert worker.inbox.empty()
