"""The hand-over from paho's network thread to the batch worker: nothing lost, nothing twice."""

import threading
import time

from devices.ingest.worker import Inbox, IngestWorker


class _Link:
    def publish(self, topic, payload):
        pass

    def ack(self, token):
        pass


def test_everything_put_from_other_threads_is_taken_exactly_once():
    # given an inbox fed by four threads while one taker drains it in small batches
    inbox = Inbox()
    per_thread, threads = 5000, 4
    taken: list = []
    done = threading.Event()

    def feed(offset):
        for n in range(per_thread):
            inbox.put(offset + n)

    def drain():
        while not (done.is_set() and inbox.empty()):
            if inbox.wait(0.05):
                taken.extend(inbox.take(37))

    taker = threading.Thread(target=drain)
    taker.start()
    feeders = [threading.Thread(target=feed, args=(k * per_thread,)) for k in range(threads)]
    for feeder in feeders:
        feeder.start()
    for feeder in feeders:
        feeder.join()
    done.set()
    taker.join(10)
    # then every item came out once, each thread's in its own order
    assert sorted(taken) == list(range(per_thread * threads))
    for k in range(threads):
        mine = [item for item in taken if k * per_thread <= item < (k + 1) * per_thread]
        assert mine == sorted(mine)


def test_an_idle_worker_wakes_for_the_first_message_at_once():
    # given a worker waiting on an empty inbox
    worker = IngestWorker(_Link(), batch_wait_s=0.5, idle_s=0.005)
    collected: list = []
    waiting = threading.Thread(target=lambda: collected.append((worker.collect(), time.monotonic())))
    waiting.start()
    time.sleep(0.05)
    # when one message arrives and nothing follows it
    put_at = time.monotonic()
    worker.inbox.put("m-1")
    waiting.join(1)
    # then it is collected alone after a lull of a few ms, not after the batch timer or a poll
    ((batch, at),) = collected
    assert batch == ["m-1"]
    assert at - put_at < 0.1


def test_messages_arriving_while_a_batch_is_collected_join_it_until_the_timer():
    # given a worker with a 100 ms batch window and a steady stream, one message every 2 ms
    worker = IngestWorker(_Link(), batch_wait_s=0.1, idle_s=0.02)
    stop = threading.Event()

    def stream():
        n = 0
        while not stop.is_set():
            worker.inbox.put(n)
            n += 1
            time.sleep(0.002)

    feeder = threading.Thread(target=stream)
    feeder.start()
    try:
        started = time.monotonic()
        batch = worker.collect()
        took = time.monotonic() - started
    finally:
        stop.set()
        feeder.join()
    # then one batch holds the window's messages, in order, cut by the timer
    assert len(batch) > 10 and batch == sorted(batch)
    assert 0.09 <= took < 0.2
