"""The fleet's messages are real protocol-v1 messages, and the alert ones really alert."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.services.clinical import RISK_SEVERITY
from benchmarks.messages import (
    alert_readings,
    decode_msg_id,
    elevated_readings,
    encode_msg_id,
    obs_payload,
    ordinary_readings,
    rfc3339,
)
from devices.protocol import parse_obs
from scoring import news2

NOW = datetime(2026, 11, 23, 10, 31, 2, 250000, tzinfo=UTC)


def _vitals(readings: list[dict]) -> news2.Vitals:
    values = {item["type"]: item["value"] for item in readings if item["type"] in news2.PARAMETERS}
    return news2.Vitals(**values)


@pytest.mark.parametrize("seed", range(50))
def test_every_ordinary_message_is_accepted_whole_by_the_protocol_parser(seed):
    # given an ordinary message as the fleet builds it
    rng = random.Random(seed)
    msg_id = encode_msg_id("p0r250", seed, NOW.timestamp())
    payload = obs_payload(msg_id, rfc3339(NOW), rng.randint(40, 100), ordinary_readings(rng, rfc3339(NOW)))
    # when the platform's parser reads it
    parsed = parse_obs(payload, received_at=NOW + timedelta(milliseconds=3))
    # then every reading is accepted and none rejected
    assert parsed.msg_id == msg_id
    assert len(parsed.observations) == 4
    assert parsed.rejections == ()


@pytest.mark.parametrize("seed", range(50))
def test_ordinary_readings_score_zero_on_every_parameter_they_carry(seed):
    # given a stable patient's readings
    readings = ordinary_readings(random.Random(seed), rfc3339(NOW))
    # when scored on NEWS2
    result = news2.score(_vitals(readings))
    # then none of them scores: the ordinary fleet never raises an alert by itself
    carried = [sub for sub in result.sub_scores.values() if sub.value is not None]
    assert len(carried) == 4
    assert all(sub.score == 0 for sub in carried)


@pytest.mark.parametrize("seed", range(200))
def test_elevated_readings_score_exactly_two_from_pulse_and_temperature_and_never_alert(seed):
    # given a not-quite-well patient's readings
    readings = elevated_readings(random.Random(seed), rfc3339(NOW))
    # when scored on NEWS2
    result = news2.score(_vitals(readings))
    # then pulse and temperature score 1 each, the rest 0: total 2, low risk
    scores = {name: sub.score for name, sub in result.sub_scores.items() if sub.value is not None}
    assert scores == {"heart_rate": 1, "temperature": 1, "spo2": 0, "respiratory_rate": 0}
    assert result.total == 2
    assert result.risk == news2.Risk.LOW
    # and neither alert rule fires: the low band has no alert severity, and no parameter is at 3
    assert result.risk not in RISK_SEVERITY
    assert not result.single_parameter_3


@pytest.mark.parametrize("seed", range(50))
def test_every_elevated_message_is_accepted_whole_by_the_protocol_parser(seed):
    # given an elevated message as the fleet builds it
    rng = random.Random(seed)
    msg_id = encode_msg_id("p0r250", seed, NOW.timestamp())
    payload = obs_payload(msg_id, rfc3339(NOW), 77, elevated_readings(rng, rfc3339(NOW)))
    # when the platform's parser reads it / then every reading is accepted and none rejected
    parsed = parse_obs(payload, received_at=NOW + timedelta(milliseconds=3))
    assert parsed.msg_id == msg_id
    assert len(parsed.observations) == 4
    assert parsed.rejections == ()


def test_the_alert_message_is_accepted_whole_and_is_a_complete_high_risk_score():
    # given the alert readings in a message
    payload = obs_payload("p0r250.7.1", rfc3339(NOW), 80, alert_readings(rfc3339(NOW)))
    parsed = parse_obs(payload, received_at=NOW)
    # when its vitals are scored
    result = news2.score(_vitals(alert_readings(rfc3339(NOW))))
    # then all are accepted, the score is complete, and it is in the high-risk band
    assert parsed.rejections == ()
    assert len(parsed.observations) == len(alert_readings(rfc3339(NOW)))
    assert result.complete
    assert result.risk == news2.Risk.HIGH


def test_a_msg_id_gives_back_its_tag_sequence_and_publish_time():
    # given a msg_id made at a known moment
    msg_id = encode_msg_id("b3r2000", 19999, 1795430000.123456)
    # when decoded / then the publish time is recovered to the microsecond
    ref = decode_msg_id(msg_id)
    assert ref is not None
    assert (ref.tag, ref.seq) == ("b3r2000", 19999)
    assert ref.published_at == pytest.approx(1795430000.123456, abs=1e-6)
    assert len(msg_id) <= 64


@pytest.mark.parametrize("foreign", ["3f1c9a7e-2b6d-4c1e-9f0a-1d2e3f4a5b6c", "a.b.c", "tag.1", "tag.x.2"])
def test_a_msg_id_the_bench_did_not_make_is_not_decoded(foreign):
    assert decode_msg_id(foreign) is None


@pytest.mark.parametrize("tag", ["", "has.dot"])
def test_a_tag_that_would_make_the_msg_id_ambiguous_is_refused(tag):
    with pytest.raises(ValueError, match="tag"):
        encode_msg_id(tag, 1, 1.0)


def test_timestamps_are_rfc3339_in_utc_and_naive_ones_are_refused():
    assert rfc3339(NOW) == "2026-11-23T10:31:02.250Z"
    with pytest.raises(ValueError, match="aware"):
        rfc3339(datetime(2026, 11, 23, 10, 31))


def test_payload_is_compact_json():
    payload = obs_payload("t.1.1", "2026-11-23T10:31:02Z", 50, [{"type": "spo2", "value": 97}])
    assert b" " not in payload
    assert json.loads(payload)["battery"] == 50
