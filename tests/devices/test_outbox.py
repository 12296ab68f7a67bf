"""The device outbox (protocol v1, "Delivery"): kept until acked, resent with capped back-off."""

from __future__ import annotations

import json
import random

import pytest

from devices.outbox import Outbox, parse_ack, publish_due


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ack(msg_id: str, accepted: int = 1, rejected: list | None = None, error: str | None = None) -> bytes:
    body: dict = {"msg_id": msg_id, "accepted": accepted, "rejected": rejected or []}
    if error is not None:
        body["error"] = error
    return json.dumps(body).encode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(clock: FakeClock) -> Outbox:
    return Outbox(clock=clock, jitter=0.0)


def sent_at(outbox: Outbox, clock: FakeClock, until: float) -> list[float]:
    """The times, relative to now, at which the outbox hands out its message, second by second."""
    start, times = clock.now, []
    while clock.now - start <= until:
        times += [clock.now - start for _ in outbox.take_due()]
        clock.now += 1
    return times


def test_a_new_message_is_published_at_once_and_not_again_before_its_ack_timeout(outbox, clock):
    # given a message just added
    outbox.add("m-1", "vw/v1/devices/d/obs", b"{}")

    # when the device asks what is due now and again 29 s later
    first = outbox.take_due()
    clock.now += 29
    second = outbox.take_due()

    # then it went out once, and is still kept
    assert [item.msg_id for item in first] == ["m-1"] and second == []
    assert "m-1" in outbox


def test_without_an_ack_the_same_message_is_resent_after_30_s_then_with_doubling_waits_capped_at_5_minutes(
    outbox, clock
):
    # given a message whose ack never comes
    outbox.add("m-1", "vw/v1/devices/d/obs", b'{"msg_id":"m-1"}')

    # when 20 minutes pass
    times = sent_at(outbox, clock, 1200)

    # then it went out at 0, 30, 90, 210, 450 and then every 300 s, the same bytes each time
    assert times == [0, 30, 90, 210, 450, 750, 1050]
    assert outbox.resends == 6


def test_jitter_stretches_each_wait_by_up_to_a_tenth_and_spreads_the_devices(clock):
    # given ten devices' outboxes, each with its own randomness, and a message each
    boxes = [Outbox(clock=clock, rng=random.Random(seed)) for seed in range(10)]
    for box in boxes:
        box.add("m-1", "t", b"x")
        box.take_due()

    # when each says how long it waits after its fifth publish (the 5-minute cap)
    waits = [box.wait_after(5) for box in boxes]
    firsts = [box.wait_after(1) for box in boxes]

    # then every wait lies between the cap and a tenth above it, and no two devices agree
    assert all(300 <= wait <= 330 for wait in waits) and all(30 <= wait <= 33 for wait in firsts)
    assert len({round(wait, 6) for wait in waits}) == 10


def test_an_ack_ends_the_resends_whatever_it_accepted(outbox, clock):
    # given two messages published
    outbox.add("m-1", "t", b"1")
    outbox.add("m-2", "t", b"2")
    outbox.take_due()

    # when both are acked, one with an item rejected
    outbox.on_ack(ack("m-1"))
    answer = outbox.on_ack(ack("m-2", 1, [{"index": 1, "reason": "spo2 value 150 outside 50-100 %"}]))

    # then neither is kept or resent
    assert answer is not None and answer.rejected[0]["index"] == 1
    assert len(outbox) == 0
    clock.now += 3600
    assert outbox.take_due() == []


def test_a_message_rejected_whole_is_not_resent(outbox, clock):
    # given a message published
    outbox.add("m-1", "t", b"1")
    outbox.take_due()

    # when its ack says it was refused whole
    answer = outbox.on_ack(ack("m-1", 0, error="observations is empty"))

    # then that is the device's answer: nothing is resent
    assert answer is not None and answer.error == "observations is empty"
    clock.now += 3600
    assert outbox.take_due() == []


def test_a_message_the_platform_could_not_store_is_kept_and_resent(outbox, clock):
    # given a message published
    outbox.add("m-1", "t", b"1")
    outbox.take_due()

    # when the platform answers that it could not store it
    outbox.on_ack(ack("m-1", 0, error="internal error: the message was not stored; send it again later"))

    # then it is resent at its next time
    clock.now += 30
    assert [item.msg_id for item in outbox.take_due()] == ["m-1"]


@pytest.mark.parametrize("payload", [b"", b"not json", b"[]", b'{"accepted": 1}', b'{"msg_id": 5}', b"\xff"])
def test_anything_that_is_not_an_ack_is_ignored(outbox, payload):
    # given a message published
    outbox.add("m-1", "t", b"1")
    outbox.take_due()

    # when something else arrives on the ack topic
    answer = outbox.on_ack(payload)

    # then it is ignored and the message kept
    assert answer is None and parse_ack(payload) is None
    assert "m-1" in outbox


def test_an_ack_for_a_message_not_kept_changes_nothing(outbox):
    # given one message kept
    outbox.add("m-1", "t", b"1")

    # when an ack for another arrives (another run's, or a second ack for one already settled)
    assert outbox.on_ack(ack("m-0")) is None

    # then the kept one is still kept
    assert "m-1" in outbox


def test_after_a_reconnect_everything_kept_goes_out_at_once_and_the_back_off_goes_on(outbox, clock):
    # given a message already published twice, and one published once
    outbox.add("m-1", "t", b"1")
    outbox.take_due()
    clock.now += 30
    outbox.take_due()
    outbox.add("m-2", "t", b"2")
    outbox.take_due()

    # when the connection comes back ten seconds later
    clock.now += 10
    outbox.reconnected()
    again = outbox.take_due()

    # then both go out at once, oldest first, and each keeps its place in the back-off
    assert [item.msg_id for item in again] == ["m-1", "m-2"]
    assert [item.attempts for item in again] == [3, 2]
    assert [item.due_at - clock.now for item in again] == [120, 60]


def test_adding_a_msg_id_already_kept_does_not_restart_its_schedule(outbox, clock):
    # given a message published
    outbox.add("m-1", "t", b"1")
    outbox.take_due()

    # when the same msg_id is added again
    outbox.add("m-1", "t", b"1")

    # then it is not due before its timeout
    assert outbox.take_due() == []


def test_publish_due_hands_the_due_messages_to_the_client_at_qos_1(outbox):
    # given two messages due and a client that records its publishes
    outbox.add("m-1", "vw/v1/devices/d/obs", b"1")
    outbox.add("m-2", "vw/v1/devices/d/obs", b"2")
    published: list[tuple] = []

    class Client:
        def publish(self, topic, payload, qos):
            published.append((topic, payload, qos))

    # when they are published with a limit of one, then without
    first = publish_due(outbox, Client(), limit=1)
    rest = publish_due(outbox, Client())

    # then each went out once, at QoS 1
    assert (first, rest) == (1, 1)
    assert published == [("vw/v1/devices/d/obs", b"1", 1), ("vw/v1/devices/d/obs", b"2", 1)]


def test_an_outbox_refuses_settings_that_would_never_resend():
    with pytest.raises(ValueError):
        Outbox(ack_timeout_s=0)
    with pytest.raises(ValueError):
        Outbox(ack_timeout_s=60, max_backoff_s=30)


def test_a_message_its_caller_published_itself_is_only_due_after_its_ack_timeout(outbox, clock):
    # given a message the device published directly (the bench's fleet does, for speed)
    outbox.add("m-1", "t", b"1", published=True)

    # when the device looks at once and again after the timeout
    now = outbox.take_due()
    clock.now += 30
    later = outbox.take_due()

    # then it is not due at once, and is resent as a second attempt after 30 s
    assert now == []
    assert [(item.msg_id, item.attempts) for item in later] == [("m-1", 2)]
    assert outbox.resends == 1


def test_what_an_outbox_kept_survives_a_restart_and_goes_out_at_once(outbox, clock):
    # given a message published twice and never acked, and one acked
    outbox.add("m-1", "vw/v1/devices/d/obs", b'{"msg_id":"m-1"}')
    outbox.add("m-2", "vw/v1/devices/d/obs", b'{"msg_id":"m-2"}')
    outbox.take_due()
    clock.now += 30
    outbox.take_due()
    outbox.on_ack(ack("m-2"))

    # when the device restarts with what it stored (as JSON)
    stored = json.loads(json.dumps(outbox.snapshot()))
    again = Outbox(clock=clock, jitter=0.0)
    again.restore(stored)

    # then only the unacked message is back, the same bytes, due at once and further into its back-off
    due = again.take_due()
    assert [(item.msg_id, item.payload, item.attempts) for item in due] == [("m-1", b'{"msg_id":"m-1"}', 3)]
    assert due[0].due_at - clock.now == 120
