"""A repeated msg_id with different readings is refused and recorded; a true resend is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devices.ingest import Incoming, handle_batch, handle_message
from devices.ingest.reuse import REUSED_MSG_ID
from devices.models import IngestRejection, ReceivedMessage
from patients.models import Observation
from tests.ingest.conftest import obs_json

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


def pulse(value: float, at: datetime = NOW) -> dict:
    return {"type": "heart_rate", "value": value, "unit": "/min", "measured_at": at.isoformat()}


def test_a_msg_id_reused_with_other_readings_is_refused_and_the_first_copy_kept(device, obs_at):
    # given a message stored once
    first = handle_message(obs_at, obs_json("m-1", pulse(88)), NOW)

    # when the device sends other readings under the same msg_id
    again = handle_message(obs_at, obs_json("m-1", pulse(140)), NOW + timedelta(seconds=30))

    # then the ack says so, nothing of the repeat is stored, and the refusal is recorded for staff
    assert first.accepted == 1
    assert json.loads(again.reply) == {"msg_id": "m-1", "accepted": 0, "rejected": [], "error": REUSED_MSG_ID}
    assert not again.duplicate and again.error == REUSED_MSG_ID
    assert list(Observation.objects.filter(device=device).values_list("value", flat=True)) == [88]
    refusal = IngestRejection.objects.get(device=device)
    assert (refusal.msg_id, refusal.index, refusal.reason) == ("m-1", None, REUSED_MSG_ID)
    assert "140" in refusal.excerpt
    assert ReceivedMessage.objects.filter(device=device).count() == 1


@pytest.mark.parametrize(
    "repeat",
    [
        [pulse(88), pulse(90)],  # one reading more
        [pulse(88, NOW - timedelta(minutes=1))],  # another time
        [{**pulse(88), "type": "respiratory_rate"}],  # another type
        [{**pulse(88), "value": 150, "type": "spo2", "unit": "%"}],  # now refused, for another reason
    ],
    ids=["extra-reading", "other-time", "other-type", "other-refusal"],
)
def test_any_difference_in_the_readings_is_a_reuse(device, obs_at, repeat):
    # given a message stored once
    handle_message(obs_at, obs_json("m-1", pulse(88)), NOW)

    # when the msg_id comes again with the readings changed
    again = handle_message(obs_at, obs_json("m-1", *repeat), NOW)

    # then it is refused as a reuse
    assert again.error == REUSED_MSG_ID


def test_a_resend_with_a_new_sent_at_and_battery_is_still_the_same_message(device, obs_at):
    # given a message stored once
    first = handle_message(obs_at, obs_json("m-1", pulse(88), sent_at=NOW.isoformat(), battery=80), NOW)

    # when the device resends its readings, restamped and with a lower battery
    later = NOW + timedelta(seconds=30)
    again = handle_message(obs_at, obs_json("m-1", pulse(88), sent_at=later.isoformat(), battery=79), later)

    # then it is answered with the stored ack and nothing is recorded against it
    assert again.duplicate and again.reply == first.reply
    assert not IngestRejection.objects.exists()


def test_a_resend_that_arrives_after_a_reading_left_the_time_window_is_not_a_reuse(device, obs_at):
    # given a reading taken 30 s short of the 7-day limit, stored
    taken = NOW - timedelta(days=7) + timedelta(seconds=30)
    first = handle_message(obs_at, obs_json("m-1", pulse(88, taken)), NOW)

    # when the same message is resent a minute later, when that reading would be refused as too old
    again = handle_message(obs_at, obs_json("m-1", pulse(88, taken)), NOW + timedelta(minutes=1))

    # then it is still the same message: the first answer comes back
    assert first.accepted == 1
    assert again.duplicate and again.reply == first.reply


def test_after_a_reuse_the_original_resent_still_gets_its_own_ack(device, obs_at):
    # given a message refused whole, then its msg_id reused with other content
    first = handle_message(obs_at, obs_json("m-1"), NOW)  # no observations: refused whole
    handle_message(obs_at, obs_json("m-1", pulse(88)), NOW)

    # when the original is sent again
    again = handle_message(obs_at, obs_json("m-1"), NOW)

    # then it hears its own first answer, not the reuse
    assert json.loads(first.reply)["error"] == "observations is empty"
    assert again.duplicate and again.reply == first.reply
    assert IngestRejection.objects.filter(reason=REUSED_MSG_ID).count() == 1


def test_a_reuse_inside_one_batch_is_refused_and_a_resend_inside_it_is_answered(device, obs_at):
    # given one batch holding a message, a resend of it and a reuse of its msg_id
    original = obs_json("m-1", pulse(88), {**pulse(150), "type": "spo2", "unit": "%"})
    batch = [
        Incoming(obs_at, original, NOW),
        Incoming(obs_at, original, NOW),
        Incoming(obs_at, obs_json("m-1", pulse(99)), NOW),
    ]

    # when the batch is handled
    first, resend, reuse = handle_batch(batch)

    # then the resend hears the first answer, its item rejection included, and the reuse is refused
    assert resend.duplicate and resend.reply == first.reply
    assert json.loads(first.reply)["rejected"][0]["index"] == 1
    assert reuse.error == REUSED_MSG_ID
    assert Observation.objects.filter(device=device).count() == 1
