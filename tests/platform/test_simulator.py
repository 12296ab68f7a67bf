"""The device simulator: valid protocol-v1 messages, deliberate faults, and scenarios that show."""

from __future__ import annotations

import json
import random
import threading
import time
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from devices.protocol import MessageRejected, parse_obs, parse_status
from devices.simulator import Drop, Publish, Reconnect, SimDevice, Simulator, build_devices, malformed_payloads
from fixtures import demo_plan
from scoring import news2

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STEP_S = 60.0


def patient(scenario: str) -> demo_plan.DemoPatient:
    return next(p for p in demo_plan.demo_patients() if p.scenario == scenario)


def play(devices: list[SimDevice], hours: float, speed: float = 60.0) -> list[tuple[datetime, str, object]]:
    """Run devices through `hours` of scenario time; real time advances hours*3600/speed seconds."""
    for device in devices:
        device.first_due(speed)
    actions = []
    sim_s = 0.0
    while sim_s <= hours * 3600:
        now = START + timedelta(seconds=sim_s / speed)
        for device in devices:
            actions += [(now, device.device_id, action) for action in device.step(sim_s, now)]
        sim_s += STEP_S
    return actions


def obs_items(payload: bytes) -> list[dict]:
    return json.loads(payload)["observations"]


def test_every_scenario_publishes_payloads_that_protocol_v1_accepts_whole():
    # given every demo device in its scenario
    devices = build_devices(demo_plan.demo_patients(), seed=3)
    # when six scenario hours are played
    actions = play(devices, hours=6)
    good = [(at, a) for at, _, a in actions if isinstance(a, Publish) and not a.malformed]
    # then there are many messages, and the protocol parser accepts every item of every one
    assert len(good) > 1000
    for at, publish in good:
        parsed = parse_obs(publish.payload, received_at=at + timedelta(seconds=2))
        assert parsed.rejections == (), publish.payload
        assert parsed.observations


def test_the_malformed_device_sends_broken_messages_that_protocol_v1_refuses():
    # given the patch with the firmware bug
    devices = build_devices((patient(demo_plan.MALFORMED),), seed=3)
    # when two scenario hours are played
    broken = [(at, a) for at, _, a in play(devices, hours=2) if isinstance(a, Publish) and a.malformed]
    # then it sent several broken messages and the parser refuses every one (whole or in part)
    assert len(broken) >= 5
    for at, publish in broken:
        try:
            parsed = parse_obs(publish.payload, received_at=at)
        except MessageRejected:
            continue
        assert parsed.rejections, publish.payload


@pytest.mark.parametrize("index", range(len(malformed_payloads("m-1", START))))
def test_each_kind_of_malformed_message_is_refused_by_protocol_v1(index):
    # given one of the broken messages
    payload = malformed_payloads("m-1", START)[index]
    # when the platform's parser reads it
    try:
        parsed = parse_obs(payload, received_at=START)
    except MessageRejected as exc:
        # then it is refused whole with a reason...
        assert exc.reason
        return
    # ...or the bad item is refused with a reason
    assert parsed.rejections and all(r.reason for r in parsed.rejections)


def news2_at(subject: demo_plan.DemoPatient, hours: float, seed: int = 7) -> news2.News2Result:
    vitals = demo_plan.vitals_at(subject, hours, random.Random(seed))
    return news2.score(
        news2.Vitals(
            respiratory_rate=round(vitals.respiratory_rate),
            spo2=round(vitals.spo2),
            on_oxygen=vitals.on_oxygen,
            systolic_bp=round(vitals.systolic_bp),
            heart_rate=round(vitals.heart_rate),
            consciousness=vitals.consciousness,
            temperature=round(vitals.temperature, 1),
            spo2_scale=subject.spo2_scale,
        )
    )


@pytest.mark.parametrize("scenario", [demo_plan.COPD_DETERIORATION, demo_plan.SEPSIS])
def test_a_deteriorating_patient_turns_amber_then_red_within_minutes_at_default_speed(scenario):
    # given a deteriorating patient (at the default speed of 60, a scenario hour is a real minute)
    subject = patient(scenario)
    # then they start low, are amber (medium) by 3 hours and red (high) by 4.5 hours in
    assert news2_at(subject, 0).risk == "low"
    assert news2_at(subject, 3.0).risk in ("medium", "high")
    assert news2_at(subject, 4.5).risk == "high"
    assert news2_at(subject, 4.5).complete


def test_the_copd_patient_is_scored_on_scale_2():
    # given the COPD patient
    subject = patient(demo_plan.COPD_DETERIORATION)
    # then the plan puts them on Scale 2 with a baseline inside the 88-92 % target
    assert subject.spo2_scale == 2
    assert 88 <= subject.baseline.spo2 <= 92


def test_stable_patients_stay_out_of_the_amber_band():
    # given every stable patient, at many moments of their day
    stable = [p for p in demo_plan.demo_patients() if p.scenario == demo_plan.STABLE]
    # then none of them is ever scored medium or high
    risks = {news2_at(p, hours, seed).risk for p in stable for hours, seed in ((1, 1), (3, 2), (6, 3))}
    assert risks <= {"low", "low-medium"}


def test_a_not_spot_device_drops_stores_and_uploads_its_readings_late_on_reconnection():
    # given the patch of a patient in a not-spot
    devices = [d for d in build_devices((patient(demo_plan.NOT_SPOT),), seed=3) if d.is_patch]
    # when five scenario hours are played
    actions = play(devices, hours=5)
    kinds = [type(a) for _, _, a in actions if not isinstance(a, Publish)]
    # then the connection dropped (Last Will) and came back
    assert kinds[:2] == [Drop, Reconnect]
    reconnect_at = next(at for at, _, a in actions if isinstance(a, Reconnect))
    upload = next(a for at, _, a in actions if isinstance(a, Publish) and at == reconnect_at)
    # and the first upload carries many readings measured while offline, in the past
    items = obs_items(upload.payload)
    assert len(items) > 10
    measured = sorted(datetime.fromisoformat(i["measured_at"]) for i in items)
    assert reconnect_at - measured[0] > timedelta(minutes=2)
    assert not parse_obs(upload.payload, received_at=reconnect_at).rejections


def test_the_dying_device_drops_once_and_never_speaks_again():
    # given the patch that dies
    devices = [d for d in build_devices((patient(demo_plan.DEVICE_DIES),), seed=3) if d.is_patch]
    # when four scenario hours are played
    actions = play(devices, hours=4)
    drop_index = next(i for i, (_, _, a) in enumerate(actions) if isinstance(a, Drop))
    # then it dropped exactly once and published nothing afterwards
    assert sum(isinstance(a, Drop) for _, _, a in actions) == 1
    assert actions[drop_index + 1 :] == []
    assert devices[0].dead


def test_the_low_battery_patch_reports_a_battery_below_the_alert_threshold():
    # given the draining patch
    devices = [d for d in build_devices((patient(demo_plan.LOW_BATTERY),), seed=3) if d.is_patch]
    # when four scenario hours are played
    published = [a for _, _, a in play(devices, hours=4) if isinstance(a, Publish)]
    levels = [json.loads(p.payload)["battery"] for p in published]
    # then the battery it reports falls steadily below 20 %
    assert levels[0] > 20
    assert levels[-1] < 20
    assert levels == sorted(levels, reverse=True)


def test_the_simulator_publishes_through_a_real_broker_with_a_last_will(mqtt_url):
    # given a subscriber on the demo topics and the simulator for the patient whose patch dies
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    seen: list[tuple[str, bytes]] = []
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vw-test-sim-listener")
    listener.on_connect = lambda c, *a: c.subscribe("vw/v1/devices/+/#", qos=1)
    # Retained messages left by an earlier run on a shared broker are history, not this run.
    listener.on_message = lambda c, u, m: None if m.retain else seen.append((m.topic, m.payload))
    listener.connect(host, int(port))
    listener.loop_start()
    time.sleep(0.5)
    devices = build_devices((patient(demo_plan.DEVICE_DIES),), seed=3)
    simulator = Simulator(devices, mqtt_url, speed=3600.0, credentials={})
    # when it runs for a few seconds (at 3600x the patch dies after 1.5 s)
    simulator.run(threading.Event(), duration=4.0, tick_s=0.05)
    time.sleep(1.0)
    received = list(seen)
    for device in devices:  # leave no retained status behind on a shared broker
        listener.publish(f"vw/v1/devices/{device.device_id}/status", b"", qos=1, retain=True).wait_for_publish(2)
    listener.loop_stop()
    listener.disconnect()
    # then readings arrived and parse, and the dead patch's Last Will said offline
    obs = [p for t, p in received if t.startswith("vw/v1/devices/demo-r04-") and t.endswith("/obs")]
    assert obs and all(parse_obs(p, received_at=datetime.now(UTC)).observations for p in obs)
    patch_status = [parse_status(p).state for t, p in received if t == "vw/v1/devices/demo-r04-patch/status"]
    assert patch_status[0] == "online"
    assert "offline" in patch_status
