"""The fleet's bookkeeping: where alert messages go and which acks settle which messages."""

from __future__ import annotations

import json

import pytest

from devices.bench.fleet import StepOutcome, _AckBook, alert_positions, battery


def _ack(msg_id: str, accepted: int, **extra) -> bytes:
    return json.dumps({"msg_id": msg_id, "accepted": accepted, "rejected": [], **extra}).encode()


def test_alert_messages_are_spread_evenly_through_the_step():
    # given 1,000 messages of which 4 alert
    positions = alert_positions(1000, 4)
    # then they sit a quarter apart, none at the very edges
    assert sorted(positions) == [125, 375, 625, 875]
    assert sorted(positions.values()) == [0, 1, 2, 3]


def test_a_step_without_alerts_has_no_alert_positions():
    assert alert_positions(1000, 0) == {}


def test_more_alerts_than_messages_is_refused():
    with pytest.raises(ValueError, match="cannot place"):
        alert_positions(3, 4)


def test_an_ack_settles_its_message_and_records_its_latency():
    # given a message awaiting its ack
    book = _AckBook(StepOutcome(tag="p0r250"))
    book.expect("p0r250.0.1", published_at=0.0, obs_count=4)
    # when the platform's ack arrives
    book.on_ack(_ack("p0r250.0.1", 4))
    # then it is no longer pending, and its latency and observations are counted
    assert book.pending == {}
    assert len(book.outcome.ack_latencies) == 1
    assert book.outcome.acked_obs == 4


def test_an_error_ack_from_another_platform_on_the_broker_leaves_the_message_pending():
    # given a message awaiting its ack, and a test run's ingest that does not know our devices
    book = _AckBook(StepOutcome(tag="p0r250"))
    book.expect("p0r250.0.1", published_at=0.0, obs_count=4)
    # when that ingest answers "not registered" first
    book.on_ack(_ack("p0r250.0.1", 0, error="device 'dev-bench-00001' is not registered"))
    # then the message still waits for our platform's answer, and the oddity is noted
    assert "p0r250.0.1" in book.pending
    assert book.outcome.ack_latencies == []
    assert "not registered" in book.outcome.refused[0]
    # and when our platform's ack follows, it settles the message
    book.on_ack(_ack("p0r250.0.1", 4))
    assert book.pending == {}


def test_an_ack_that_rejects_readings_is_reported_not_counted_as_stored():
    # given a message of 4 readings
    book = _AckBook(StepOutcome(tag="p0r250"))
    book.expect("p0r250.0.1", published_at=0.0, obs_count=4)
    # when the ack accepts only 3
    book.on_ack(_ack("p0r250.0.1", 3, rejected=[{"index": 2, "reason": "spo2 value 150 outside 50-100 %"}]))
    # then it is settled but counted as refused, with the reason kept for the report
    assert book.pending == {}
    assert book.outcome.ack_latencies == []
    assert "spo2 value 150" in book.outcome.refused[0]


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'{"accepted": 1}', _ack("someone-else", 1)])
def test_acks_that_are_not_for_a_pending_message_are_ignored(payload):
    book = _AckBook(StepOutcome(tag="p0r250"))
    book.expect("p0r250.0.1", published_at=0.0, obs_count=4)
    book.on_ack(payload)
    assert list(book.pending) == ["p0r250.0.1"]
    assert book.outcome.refused == []


def test_a_device_reports_the_same_plausible_battery_on_every_message():
    # given the fleet's devices / when their battery is read twice
    readings = {device: (battery(device), battery(device)) for device in (f"dev-bench-{n:05d}" for n in range(200))}
    # then it is steady per device (no fake state change per message) and a valid percentage
    assert all(first == second for first, second in readings.values())
    assert all(60 <= first < 100 for first, _ in readings.values())
