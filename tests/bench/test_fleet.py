"""The fleet's bookkeeping: where alert messages go and which acks settle which messages."""

from __future__ import annotations

import itertools
import json

import pytest

from benchmarks.fleet import (
    StepOutcome,
    StepPlan,
    _AckBook,
    _publish_all,
    alert_positions,
    battery,
    elevated_devices,
    merge_outcomes,
    publishers_for,
    split_plan,
)
from benchmarks.messages import decode_msg_id

DEVICES = tuple(f"dev-bench-{n:05d}" for n in range(200))
ALERTING = tuple(f"dev-bench-{n:05d}" for n in range(200, 220))


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
    assert book.outcome.ack_published_at == [0.0]
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


@pytest.mark.parametrize(
    ("rate", "publishers"), [(10, 1), (250, 1), (1000, 1), (1001, 2), (1500, 2), (2500, 3), (3000, 3)]
)
def test_a_step_gets_one_publisher_per_thousand_messages_a_second(rate, publishers):
    assert publishers_for(rate) == publishers


def test_the_elevated_share_of_devices_is_spread_through_the_fleet():
    # given 200 devices and a share of 0.15
    chosen = elevated_devices(DEVICES, 0.15)
    # then 30 are chosen, spread evenly rather than the first 30
    positions = sorted(DEVICES.index(device) for device in chosen)
    assert len(chosen) == 30
    assert positions[0] < 10 and positions[-1] > 190
    assert max(b - a for a, b in itertools.pairwise(positions)) <= 7


@pytest.mark.parametrize(("share", "count"), [(0.0, 0), (1.0, 200), (0.5, 100)])
def test_the_elevated_share_takes_none_all_or_half(share, count):
    assert len(elevated_devices(DEVICES, share)) == count


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_an_elevated_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="between 0 and 1"):
        elevated_devices(DEVICES, share)


def _plan(rate: float, **extra) -> StepPlan:
    fields = dict(
        mqtt_url="mqtt://127.0.0.1:1883",
        topic_root="vw/v1/devices/",
        tag="p3r3000",
        device_ids=DEVICES,
        alert_device_ids=ALERTING,
        rate=rate,
        seconds=12,
        start_at=5000.0,
    )
    return StepPlan(**{**fields, **extra})


def test_a_step_split_between_publishers_shares_devices_rate_and_one_interleaved_schedule():
    # given a 3,000 msg/s step / when split between three publishers
    shares = split_plan(_plan(3000), 3)
    # then the devices and the alerting devices are divided without overlap or omission
    assert sorted(d for share in shares for d in share.device_ids) == sorted(DEVICES)
    assert sorted(d for share in shares for d in share.alert_device_ids) == sorted(ALERTING)
    # and each publishes a third of the rate, starting one message interval after the previous
    assert [share.rate for share in shares] == [1000, 1000, 1000]
    assert [share.start_at - 5000.0 for share in shares] == pytest.approx([0, 1 / 3000, 2 / 3000])
    assert [(share.share, share.shares) for share in shares] == [(0, 3), (1, 3), (2, 3)]


def test_a_step_with_one_publisher_is_not_changed():
    plan = _plan(500)
    assert split_plan(plan, 1) == [plan]


class FakeClient:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        assert qos == 1
        self.published.append((topic, json.loads(payload)))


def test_publishers_of_one_step_send_every_sequence_number_once_with_the_right_readings():
    # given a short step split between three publishers, 15 % of the devices elevated
    elevated = elevated_devices(DEVICES, 0.15)
    plan = _plan(3000, seconds=0.1, start_at=0.0, elevated_device_ids=elevated, alert_device_ids=ALERTING[:3])
    # when each publisher publishes its share (to a client that only records)
    sent = []
    for share in split_plan(plan, 3):
        client = FakeClient()
        _publish_all(share, client, _AckBook(StepOutcome(tag=plan.tag)))
        sent.extend(client.published)
    # then the step's sequence numbers are each used exactly once, under the step's tag
    refs = [decode_msg_id(body["msg_id"]) for _, body in sent]
    assert sorted(ref.seq for ref in refs) == list(range(300))
    assert {ref.tag for ref in refs} == {"p3r3000"}
    # and elevated devices send a pulse that scores, the others a normal one, alerting ones the alert set
    for topic, body in sent:
        device = topic.split("/")[3]
        pulse = next(item["value"] for item in body["observations"] if item["type"] == "heart_rate")
        if device in ALERTING:
            assert pulse == 125
        else:
            assert (91 <= pulse <= 110) == (device in elevated)
    assert sum(topic.split("/")[3] in ALERTING for topic, _ in sent) == 3


def test_the_outcomes_of_a_steps_publishers_add_up_to_the_step():
    # given what two publishers saw
    first = StepOutcome(tag="t", published=10, published_obs=40, first_publish_at=100.0, last_publish_at=110.0)
    first.ack_latencies, first.acked_obs, first.last_ack_at = [0.01] * 10, 40, 110.5
    first.ack_published_at = [100.0 + k for k in range(10)]
    first.max_lag_s, first.alert_published_at = 0.02, {"dev-a": 105.0}
    second = StepOutcome(tag="t", published=10, published_obs=40, first_publish_at=100.1, last_publish_at=110.1)
    second.ack_latencies, second.acked_obs, second.last_ack_at = [0.03] * 9, 36, 111.0
    second.ack_published_at = [100.1 + k for k in range(9)]
    second.max_lag_s, second.unacked, second.refused = 0.3, 1, ["t.3.1: refused"]
    # when merged
    step = merge_outcomes([first, second])
    # then counts add, the span runs from the first publish to the last, the worst lag is kept
    assert (step.publishers, step.published, step.published_obs, step.acked_obs) == (2, 20, 80, 76)
    assert (step.first_publish_at, step.last_publish_at, step.last_ack_at) == (100.0, 110.1, 111.0)
    assert step.max_lag_s == 0.3
    assert len(step.ack_latencies) == len(step.ack_published_at) == 19
    assert step.ack_published_at[10] == 100.1, "publish times stay beside their latencies"
    assert (step.unacked, step.refused, step.alert_published_at) == (1, ["t.3.1: refused"], {"dev-a": 105.0})


def test_a_publisher_that_sent_nothing_does_not_drag_the_start_of_the_step_to_zero():
    idle = StepOutcome(tag="t")
    busy = StepOutcome(tag="t", published=1, first_publish_at=100.0, last_publish_at=100.0)
    assert merge_outcomes([idle, busy]).first_publish_at == 100.0


def test_each_publisher_has_its_own_random_readings():
    # two publishers with the same seed would send identical vitals in lockstep
    shares = split_plan(_plan(2000, seconds=0.01, start_at=0.0, alert_device_ids=()), 2)
    bodies = []
    for share in shares:
        client = FakeClient()
        _publish_all(share, client, _AckBook(StepOutcome(tag="t")))
        bodies.append([item["value"] for _, body in client.published for item in body["observations"]])
    assert bodies[0] != bodies[1]
