"""One code pairs the whole kit: each device named as it is paired, each first reading confirmed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from devices.credentials import claim_key_hash
from devices.kit_pairing import kit_devices, kit_of_device, kit_token, pairing_kit_add
from devices.models import Device, PairingCode
from devices.pairing import PairingError, pairing_code_issue, pairing_complete
from tests.factories import DeviceFactory, ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def kit(db):
    """Four devices in stock: what a frailty patient takes home."""
    kinds = ["wearable_patch", "bp_monitor", "thermometer", "scales"]
    return [
        DeviceFactory(patient=None, paired_at=None, secret_hash="", kind=kind, serial=f"KIT-{n}",
                      claim_key_hash=claim_key_hash(f"key-{n}"))
        for n, kind in enumerate(kinds, start=1)
    ]  # fmt: skip


def first_device(client, patient, clinician, serial):
    issued = pairing_code_issue(patient=patient, user=clinician)
    client.post(reverse("frontend:pair"), {"code": issued.code})
    response = client.post(reverse("frontend:pair-device"), {"serial": serial})
    assert response.status_code == 302
    return response["Location"]


def test_a_patient_pairs_the_whole_kit_with_one_code_and_sees_each_device_named(client, patient, clinician, kit):
    # given the first device paired with the code
    wait_url = first_device(client, patient, clinician, kit[0].serial)
    page = client.get(wait_url).content.decode()
    assert "Wearable patch" in page and "Set up this device too" in page

    # when the patient adds the rest by their numbers alone
    for device in kit[1:]:
        back = wait_url.rstrip("/").split("/")[-1]
        response = client.post(reverse("frontend:pair-kit-add"), {"serial": device.serial, "back": back})
        assert response.status_code == 302, response.content[:300]
        wait_url = response["Location"]

    # then all four are the patient's, and the last page names each with where it has got to
    assert {d.patient_id for d in Device.objects.filter(pk__in=[d.pk for d in kit])} == {patient.pk}
    token = wait_url.rstrip("/").split("/")[-1]
    status = client.get(reverse("frontend:pair-status", args=[token])).json()
    assert [d["name"] for d in status["kit"]] == ["Wearable patch", "Blood-pressure monitor", "Thermometer", "Scales"]
    assert {d["state"] for d in status["kit"]} == {"setting_up"}
    # and a fifth cannot be offered: the kit is full
    assert "Set up this device too" not in client.get(wait_url).content.decode()


def test_each_devices_first_reading_is_confirmed_on_its_own(client, patient, clinician, kit):
    wait_url = first_device(client, patient, clinician, kit[0].serial)
    back = wait_url.rstrip("/").split("/")[-1]
    client.post(reverse("frontend:pair-kit-add"), {"serial": kit[1].serial, "back": back})
    ObservationFactory(patient=patient, device=Device.objects.get(pk=kit[1].pk))
    status = client.get(reverse("frontend:pair-status", args=[back])).json()
    states = {d["serial"]: (d["state"], d["title"]) for d in status["kit"]}
    assert states[kit[1].serial] == ("received", "First reading received")
    assert states[kit[0].serial][0] == "setting_up"
    # the page for the first device still speaks of the first device
    assert status["state"] == "setting_up"


def _used_code(patient, clinician, device):
    issued = pairing_code_issue(patient=patient, user=clinician)
    pairing_complete(code=issued.code, serial=device.serial, issue_credentials=False)
    return PairingCode.objects.get(patient=patient, used_at__isnull=False)


def test_the_kit_is_bounded_by_its_maximum(settings, patient, clinician, kit):
    settings.VW_PAIRING_KIT_MAX = 2
    row = _used_code(patient, clinician, kit[0])
    pairing_kit_add(token=kit_token(row), serial=kit[1].serial)
    with pytest.raises(PairingError) as refused:
        pairing_kit_add(token=kit_token(row), serial=kit[2].serial)
    assert refused.value.reason == "kit_full"
    assert len(kit_devices(row)) == 2


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("expired", "kit_closed"),
        ("discharged", "kit_closed"),
        ("forged", "kit_closed"),
        ("same device", "already_in_kit"),
        ("unknown serial", "serial_not_recognised"),
        ("someone else's", "device_in_use"),
    ],
)
def test_a_kit_addition_is_refused_with_a_reason(patient, clinician, kit, spoil, reason):
    row = _used_code(patient, clinician, kit[0])
    token, serial = kit_token(row), kit[1].serial
    if spoil == "expired":
        PairingCode.objects.filter(pk=row.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif spoil == "discharged":
        patient.discharged_at = timezone.now()
        patient.save()
    elif spoil == "forged":
        token = token[:-2] + "xx"
    elif spoil == "same device":
        serial = kit[0].serial
    elif spoil == "unknown serial":
        serial = "NOPE-1"
    else:
        DeviceFactory(serial="TAKEN-1", patient=PatientFactory())
        serial = "TAKEN-1"
    with pytest.raises(PairingError) as refused:
        pairing_kit_add(token=token, serial=serial)
    assert refused.value.reason == reason
    assert refused.value.message


def test_the_code_itself_stays_single_use_for_gateways(patient, clinician, kit):
    issued = pairing_code_issue(patient=patient, user=clinician)
    pairing_complete(code=issued.code, serial=kit[0].serial)
    with pytest.raises(PairingError) as refused:
        pairing_complete(code=issued.code, serial=kit[1].serial)
    assert refused.value.reason == "already_used"


def test_a_kit_addition_without_the_phones_session_is_refused_on_the_page(client, patient, clinician, kit):
    _used_code(patient, clinician, kit[0])
    response = client.post(reverse("frontend:pair-kit-add"), {"serial": kit[1].serial})
    assert response.status_code == 400 and "This set-up has ended" in response.content.decode()
    assert Device.objects.get(pk=kit[1].pk).patient_id is None


def test_a_refused_kit_addition_says_why_on_the_waiting_page(client, patient, clinician, kit):
    wait_url = first_device(client, patient, clinician, kit[0].serial)
    back = wait_url.rstrip("/").split("/")[-1]
    response = client.post(reverse("frontend:pair-kit-add"), {"serial": "NOPE-1", "back": back})
    assert response.status_code == 400
    assert "We do not recognise that device number" in response.content.decode()


def test_each_device_of_a_kit_finds_its_kit(patient, clinician, kit):
    row = _used_code(patient, clinician, kit[0])
    pairing_kit_add(token=kit_token(row), serial=kit[1].serial)
    assert kit_of_device(Device.objects.get(pk=kit[1].pk)) == row
    # a device of a later code belongs to the later kit
    assert kit_of_device(Device.objects.get(pk=kit[0].pk)) == row
