"""The storing step itself: what survives a rolled-back batch, and one row per message."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection, transaction

from devices.ingest import Incoming, handle_batch, store
from devices.models import ReceivedMessage
from patients.models import Observation
from tests.ingest.conftest import MANIFEST_RECEIVED_AT, obs_json


def _reading(minutes_before: int = 1) -> dict:
    measured = MANIFEST_RECEIVED_AT - timedelta(minutes=minutes_before)
    return {"type": "heart_rate", "value": 72, "unit": "/min", "measured_at": measured.isoformat()}


@pytest.mark.django_db(transaction=True)
def test_a_batch_after_a_rolled_back_one_is_stored_on_the_same_connection(device, obs_at):
    # given a fresh connection whose first batch is rolled back by an error after storing
    connection.close()
    with pytest.raises(RuntimeError), transaction.atomic():
        handle_batch([Incoming(obs_at, obs_json("first", _reading()), MANIFEST_RECEIVED_AT)])
        raise RuntimeError("the surrounding work failed")

    # when the next batch arrives on that connection
    outcomes = handle_batch([Incoming(obs_at, obs_json("second", _reading()), MANIFEST_RECEIVED_AT)])

    # then it is stored (whatever the rollback took with it, staging included), the first is not
    assert outcomes[0].accepted == 1 and outcomes[0].error is None
    assert list(ReceivedMessage.objects.values_list("msg_id", flat=True)) == ["second"]
    assert Observation.objects.filter(device=device).count() == 1


@pytest.mark.django_db(transaction=True)
def test_many_batches_on_one_connection_store_every_message_once(device, obs_at):
    # given three batches in a row, the last one repeating a message of the first
    batches = [
        [Incoming(obs_at, obs_json(f"m{batch}-{n}", _reading(n + 1)), MANIFEST_RECEIVED_AT) for n in range(5)]
        for batch in range(2)
    ]
    batches.append([Incoming(obs_at, obs_json("m0-0", _reading(1)), MANIFEST_RECEIVED_AT)])

    # when they are handled one after another
    outcomes = [handle_batch(batch) for batch in batches]

    # then ten messages are stored once each, and the repeat is answered as a duplicate
    assert ReceivedMessage.objects.filter(device=device).count() == 10
    assert Observation.objects.filter(device=device).count() == 10
    assert [o.duplicate for o in outcomes[2]] == [True]


def test_a_scores_sub_scores_are_parsed_once_and_a_new_score_is_read_afresh(monkeypatch):
    stored = json.dumps({"spo2": {"value": 97, "score": 0}, "heart_rate": {"value": 95, "score": 1}})
    parsed = []
    real_loads = store.json.loads
    monkeypatch.setattr(store.json, "loads", lambda text: parsed.append(text) or real_loads(text))
    monkeypatch.setattr(store, "_SUB_SCORES", {})
    # given two batches that both see a patient's current score 901
    first = store.DeviceRef(1, 10, 1, False, 1, "low", stored, 901).current_sub_scores()
    again = store.DeviceRef(1, 10, 1, False, 1, "low", stored, 901).current_sub_scores()
    # then its sub-scores are parsed once and read the same both times
    assert first == again == {"spo2": 0, "heart_rate": 1}
    assert len(parsed) == 1
    # and the patient's next score, a new row, is read from its own text
    newer = json.dumps({"spo2": {"value": 93, "score": 2}})
    assert store.DeviceRef(1, 10, 1, False, 1, "low", newer, 902).current_sub_scores() == {"spo2": 2}
    assert len(parsed) == 2
