"""Device credentials and ACLs enforced by a real Mosquitto running the platform's generated config."""

from __future__ import annotations

import json
import uuid

from django.utils import timezone

from devices import broker_auth
from devices.ingest.batch import handle_message
from devices.models import Device, IngestRejection
from devices.pairing import device_unpair
from patients.models import Observation
from tests.broker.mqtt import Session, connect_accepted
from tests.factories import UserFactory

SHARED = "$share/vw-ingest/vw/v1/devices/+/obs"


def obs_payload() -> bytes:
    now = timezone.now().isoformat()
    return json.dumps(
        {
            "msg_id": str(uuid.uuid4()),
            "observations": [{"type": "heart_rate", "value": 88, "unit": "/min", "measured_at": now}],
        }
    ).encode()


def platform_session(broker) -> Session:
    account = broker_auth.platform_mqtt_account()
    session = Session(broker.url, account.username, account.password)
    assert session.accepted
    session.subscribe(SHARED)
    return session


def test_a_paired_device_publishes_and_its_reading_is_stored(broker, pair_device):
    # given a device paired through the platform and the ingest listening as the platform
    paired = pair_device()
    platform = platform_session(broker)
    device = Session(broker.url, paired.device_id, paired.secret, client_id=paired.device_id)
    assert device.accepted

    # when the device publishes a reading on its own topic
    device.publish(paired.topics["obs"], obs_payload())
    received = platform.next_message()

    # then the platform receives it and the ingest entry point stores it for the patient
    assert received is not None and received[0] == paired.topics["obs"]
    outcome = handle_message(received[0], received[1], timezone.now())
    assert outcome.accepted == 1
    stored = Observation.objects.get(device__device_id=paired.device_id)
    assert stored.patient == Device.objects.get(device_id=paired.device_id).patient
    device.close(), platform.close()


def test_a_device_cannot_publish_on_another_devices_topic(broker, pair_device):
    # given two paired devices and the platform listening
    mine, theirs = pair_device(), pair_device()
    platform = platform_session(broker)
    device = Session(broker.url, mine.device_id, mine.secret)

    # when the first device publishes on the second device's topic, then on its own
    device.publish(theirs.topics["obs"], obs_payload())
    device.publish(mine.topics["obs"], b'{"marker": true}')

    # then only its own message reaches the platform
    first = platform.next_message()
    assert first is not None and first[0] == mine.topics["obs"]
    assert platform.next_message(timeout=1) is None
    device.close(), platform.close()


def test_another_devices_credentials_cannot_subscribe_to_its_config(broker, pair_device):
    # given two paired devices
    mine, theirs = pair_device(), pair_device()
    session = Session(broker.url, mine.device_id, mine.secret)

    # when the first subscribes to the second's config topic (where a retained config waits)
    session.subscribe(theirs.topics["config"])

    # then nothing of the other device's is delivered
    assert session.next_message(timeout=1) is None
    session.close()


def test_a_paired_device_receives_its_retained_config(broker, pair_device):
    # given a device that has just been paired
    paired = pair_device()

    # when it connects and subscribes to its config topic
    session = Session(broker.url, paired.device_id, paired.secret)
    session.subscribe(paired.topics["config"])
    message = session.next_message()

    # then the retained config published at pairing arrives
    assert message is not None
    assert json.loads(message[1]) == paired.config
    session.close()


def test_a_wrong_password_is_refused_at_connect(broker, pair_device):
    # given a paired device
    paired = pair_device()

    # when it connects with a wrong secret, then it is refused
    assert not connect_accepted(broker.url, paired.device_id, paired.secret + "x")
    assert connect_accepted(broker.url, paired.device_id, paired.secret)


def test_an_unknown_username_and_an_anonymous_client_are_refused(broker):
    # given the platform's broker with no devices paired
    # when an unknown device or an anonymous client connects, then both are refused
    assert not connect_accepted(broker.url, "dev-notpaired01", "whatever")
    assert not connect_accepted(broker.url, "", "")


def test_after_unpairing_the_next_connection_is_refused(broker, pair_device, django_capture_on_commit_callbacks):
    # given a paired device that can connect
    paired = pair_device()
    assert connect_accepted(broker.url, paired.device_id, paired.secret)
    device = Device.objects.get(device_id=paired.device_id)
    clinician = UserFactory()
    device.patient.ward.staff.add(clinician)

    # when a clinician unpairs it (the broker reloads after commit)
    with django_capture_on_commit_callbacks(execute=True):
        device_unpair(device=device, user=clinician, reason="lost")

    # then its next connection is refused
    assert not connect_accepted(broker.url, paired.device_id, paired.secret)


def test_a_connected_device_is_cut_off_when_unpaired(broker, pair_device, django_capture_on_commit_callbacks):
    # given a paired device that is connected and the platform listening
    paired = pair_device()
    platform = platform_session(broker)
    session = Session(broker.url, paired.device_id, paired.secret)
    device = Device.objects.get(device_id=paired.device_id)
    clinician = UserFactory()
    device.patient.ward.staff.add(clinician)

    # when the device is unpaired while connected
    with django_capture_on_commit_callbacks(execute=True):
        device_unpair(device=device, user=clinician, reason="discharged")

    # then Mosquitto (2.0) disconnects it on reload, it cannot come back, and nothing reached
    # the platform
    assert session.disconnected.wait(5)
    assert not connect_accepted(broker.url, paired.device_id, paired.secret)
    assert platform.next_message(timeout=1) is None
    session.close(), platform.close()


def test_a_revoked_or_unknown_devices_message_that_reaches_ingest_is_dropped(broker, pair_device):
    # given a paired device that is then revoked (at the database, the broker not yet told)
    paired = pair_device()
    Device.objects.filter(device_id=paired.device_id).update(revoked_at=timezone.now())

    # when messages from it and from an unknown device reach the ingest entry point
    revoked = handle_message(paired.topics["obs"], obs_payload(), timezone.now())
    unknown = handle_message("vw/v1/devices/dev-unknown00/obs", obs_payload(), timezone.now())

    # then neither becomes patient data and both are recorded as rejections
    assert revoked.accepted == 0 and unknown.accepted == 0
    assert not Observation.objects.exists()
    assert IngestRejection.objects.filter(device_ref__in=[paired.device_id, "dev-unknown00"]).count() == 2
