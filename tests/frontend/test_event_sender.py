"""The background sender of live events: every event goes out, in order, with one wake-up per burst."""

import threading

import pytest

from frontend import events


@pytest.fixture
def sent(monkeypatch):
    """Messages as the sender hands them to the channel layer, in order."""
    received: list[dict] = []
    arrived = threading.Condition()

    async def record(layer, messages):
        with arrived:
            received.extend(messages)
            arrived.notify_all()

    monkeypatch.setattr(events, "_send_all", record)
    monkeypatch.setattr(events, "get_channel_layer", lambda: object())
    return received, arrived


def test_a_burst_of_events_wakes_the_loop_once_and_all_arrive_in_order(sent):
    received, arrived = sent
    sender = events._BackgroundSender()
    loop, _ = sender._running()
    hand_overs = []
    real_hand_over = sender._hand_over

    def counted(queue):
        hand_overs.append(1)
        real_hand_over(queue)

    sender._hand_over = counted
    # given the sender's loop busy with something else
    busy, release = threading.Event(), threading.Event()
    loop.call_soon_threadsafe(lambda: (busy.set(), release.wait(5)))
    assert busy.wait(5)
    # when a batch submits fifty events meanwhile
    for n in range(50):
        sender.submit({"event": "observations.recorded", "n": n})
    release.set()
    # then all fifty go out, in order, after a single wake-up of the loop
    with arrived:
        assert arrived.wait_for(lambda: len(received) == 50, timeout=5)
    assert [message["n"] for message in received] == list(range(50))
    assert len(hand_overs) == 1


def test_events_submitted_after_a_hand_over_wake_the_loop_again(sent):
    received, arrived = sent
    sender = events._BackgroundSender()
    # when two events are submitted, the second after the first has gone out
    sender.submit({"n": 1})
    with arrived:
        assert arrived.wait_for(lambda: len(received) == 1, timeout=5)
    sender.submit({"n": 2})
    # then the second goes out too: the loop was woken again
    with arrived:
        assert arrived.wait_for(lambda: len(received) == 2, timeout=5)
    assert [message["n"] for message in received] == [1, 2]
