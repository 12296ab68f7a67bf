"""Pairing codes and device pairing, through the services every route calls."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from accounts.models import AuditEvent
from devices import broker_auth
from devices.credentials import secret_verify
from devices.models import Device, PairingCode
from devices.pairing import (
    CODE_ALPHABET,
    PairingError,
    code_hash,
    device_credentials_collect,
    device_unpair,
    pairing_code_issue,
    pairing_complete,
)
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from tests.pairing.conftest import STOCK_CLAIM_KEY


def reason_of(call) -> str:
    with pytest.raises(PairingError) as caught:
        call()
    return caught.value.reason


def test_a_code_is_eight_unambiguous_characters_grouped_for_reading_aloud(patient, clinician):
    # when a clinician issues a code
    issued = pairing_code_issue(patient=patient, user=clinician)

    # then it reads as ABCD-2345, uses no 0/O/1/I/L, expires in minutes and comes with a QR code
    first, second = issued.code.split("-")
    assert len(first) == len(second) == 4
    assert set(first + second) <= set(CODE_ALPHABET) and not set("01OIL") & set(first + second)
    assert dt.timedelta(minutes=1) < issued.expires_at - timezone.now() <= dt.timedelta(minutes=15)
    assert issued.qr_svg.startswith("<svg")


def test_only_a_keyed_hash_of_the_code_is_stored(patient, clinician):
    # when a code is issued
    issued = pairing_code_issue(patient=patient, user=clinician)

    # then the database holds its hash, never the code
    row = PairingCode.objects.get(patient=patient)
    assert row.code_hash == code_hash(issued.code) and issued.code.replace("-", "") not in row.code_hash


def test_a_code_works_once_and_a_second_use_is_told_it_is_already_used(patient, clinician, stock_device):
    # given a code that has paired one device
    issued = pairing_code_issue(patient=patient, user=clinician)
    pairing_complete(code=issued.code, serial=stock_device.serial)
    other = DeviceFactory(patient=None, paired_at=None, secret_hash="")

    # when it is used again, then it is refused as already used
    assert reason_of(lambda: pairing_complete(code=issued.code, serial=other.serial)) == "already_used"
    assert Device.objects.get(pk=other.pk).patient is None


def test_an_expired_code_is_told_it_has_expired(patient, clinician, stock_device):
    # given a code past its expiry
    issued = pairing_code_issue(patient=patient, user=clinician)
    PairingCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    # when it is used, then it is refused as expired with the ward's number to call
    with pytest.raises(PairingError) as caught:
        pairing_complete(code=issued.code, serial=stock_device.serial)
    assert caught.value.reason == "expired" and patient.ward.phone in caught.value.message


def test_a_wrong_code_is_not_recognised(stock_device):
    assert reason_of(lambda: pairing_complete(code="ZZZZ-9999", serial=stock_device.serial)) == "not_recognised"


def test_reissuing_a_code_cancels_the_previous_one(patient, clinician, stock_device):
    # given a code, then a reissued one
    old = pairing_code_issue(patient=patient, user=clinician)
    new = pairing_code_issue(patient=patient, user=clinician)

    # when the old code is used, then it is refused as replaced; the new one works
    assert reason_of(lambda: pairing_complete(code=old.code, serial=stock_device.serial)) == "replaced"
    assert pairing_complete(code=new.code, serial=stock_device.serial).secret


def test_a_code_is_accepted_in_lower_case_and_without_the_dash(patient, clinician, stock_device):
    issued = pairing_code_issue(patient=patient, user=clinician)
    result = pairing_complete(code=" " + issued.code.replace("-", "").lower(), serial=stock_device.serial.lower())
    assert result.device_id.startswith("dev-")


def test_guessing_is_rate_limited_per_address(settings, patient, clinician, stock_device):
    # given a real code, and an address that has guessed wrongly up to the limit
    settings.VW_PAIRING_MAX_FAILURES = 3
    issued = pairing_code_issue(patient=patient, user=clinician)
    for guess in ("AAAA-2222", "BBBB-3333", "CCCC-4444"):
        reason_of(lambda g=guess: pairing_complete(code=g, serial=stock_device.serial, client_ip="203.0.113.9"))

    # when that address tries even the right code, then it is told to wait or call the ward
    with pytest.raises(PairingError) as caught:
        pairing_complete(code=issued.code, serial=stock_device.serial, client_ip="203.0.113.9")
    assert caught.value.reason == "too_many_attempts"
    assert "wait 10 minutes or call the ward" in caught.value.message
    # and another address is unaffected
    assert pairing_complete(code=issued.code, serial=stock_device.serial, client_ip="198.51.100.7").secret


def test_pairing_gives_the_device_a_secret_only_its_hash_is_kept(patient, clinician, stock_device):
    # when a gateway pairs with a code and serial
    issued = pairing_code_issue(patient=patient, user=clinician)
    result = pairing_complete(code=issued.code, serial=stock_device.serial)

    # then the device belongs to the patient, holds only the hash, and gets its topics and config
    device = Device.objects.get(pk=stock_device.pk)
    assert device.patient == patient and device.device_id == result.device_id
    assert secret_verify(result.secret, device.secret_hash) and result.secret not in device.secret_hash
    assert result.topics["obs"] == f"vw/v1/devices/{device.device_id}/obs"
    assert result.config == {"report_interval_s": device.expected_interval_s, "mode": device.mode}
    assert AuditEvent.objects.filter(action="device.paired", patient=patient).exists()


def test_an_unregistered_serial_is_refused_and_the_code_stays_usable(patient, clinician, stock_device):
    issued = pairing_code_issue(patient=patient, user=clinician)
    assert reason_of(lambda: pairing_complete(code=issued.code, serial="NOT-A-SERIAL")) == "serial_not_recognised"
    assert pairing_complete(code=issued.code, serial=stock_device.serial).secret


def test_a_device_paired_with_another_patient_is_refused(patient, clinician):
    in_use = DeviceFactory(patient=PatientFactory(), secret_hash="")
    issued = pairing_code_issue(patient=patient, user=clinician)
    assert reason_of(lambda: pairing_complete(code=issued.code, serial=in_use.serial)) == "device_in_use"


def test_a_clinician_of_another_ward_cannot_issue_a_code(patient):
    outsider = UserFactory()
    with pytest.raises(PermissionDenied):
        pairing_code_issue(patient=patient, user=outsider)


def test_a_device_paired_from_the_page_collects_its_secret_once(patient, clinician, stock_device):
    # given a device paired from the patient's page (no secret shown on the phone)
    issued = pairing_code_issue(patient=patient, user=clinician)
    paired = pairing_complete(code=issued.code, serial=stock_device.serial, issue_credentials=False)
    assert paired.secret is None

    # when the device collects its credentials with its factory key, twice
    collected = device_credentials_collect(serial=stock_device.serial, claim_key=STOCK_CLAIM_KEY)

    # then the first collection gets a working secret and the second is refused
    assert secret_verify(collected.secret, Device.objects.get(pk=stock_device.pk).secret_hash)
    second = lambda: device_credentials_collect(serial=stock_device.serial, claim_key=STOCK_CLAIM_KEY)  # noqa: E731
    assert reason_of(second) == "already_collected"


def test_pairing_rewrites_the_broker_password_file_after_commit(
    settings, patient, clinician, stock_device, django_capture_on_commit_callbacks
):
    # given a broker directory the platform manages
    broker_auth.broker_config_write(port=18830)
    issued = pairing_code_issue(patient=patient, user=clinician)

    # when a device pairs and the transaction commits
    with django_capture_on_commit_callbacks(execute=True):
        result = pairing_complete(code=issued.code, serial=stock_device.serial)

    # then the device's username is in the broker's password file with its hash
    passwd = (settings.MQTT_BROKER_DIR / "passwd").read_text()
    assert f"{result.device_id}:{Device.objects.get(pk=stock_device.pk).secret_hash}" in passwd


def test_unpairing_revokes_at_once_and_is_audited(
    settings, patient, clinician, stock_device, django_capture_on_commit_callbacks
):
    # given a paired device in the broker's password file
    broker_auth.broker_config_write(port=18830)
    issued = pairing_code_issue(patient=patient, user=clinician)
    with django_capture_on_commit_callbacks(execute=True):
        result = pairing_complete(code=issued.code, serial=stock_device.serial)

    # when a clinician unpairs it
    with django_capture_on_commit_callbacks(execute=True):
        device = device_unpair(device=stock_device, user=clinician, reason="lost")

    # then it is revoked, its hash is gone from the database and the broker, and it is audited
    assert device.revoked_at is not None and device.secret_hash == ""
    assert result.device_id not in (settings.MQTT_BROKER_DIR / "passwd").read_text()
    event = AuditEvent.objects.get(action="device.unpaired")
    assert event.actor == clinician and event.detail["reason"] == "lost"


def test_a_revoked_device_can_be_paired_again_under_a_new_username(patient, clinician, stock_device):
    # given a device paired, then unpaired
    first = pairing_complete(code=pairing_code_issue(patient=patient, user=clinician).code, serial=stock_device.serial)
    device_unpair(device=stock_device, user=clinician, reason="cleaned for reuse")

    # when it is paired again, then it gets a new broker username
    second = pairing_complete(code=pairing_code_issue(patient=patient, user=clinician).code, serial=stock_device.serial)
    assert second.device_id != first.device_id


def test_a_code_for_a_discharged_patient_cannot_be_used(patient, clinician, stock_device):
    issued = pairing_code_issue(patient=patient, user=clinician)
    patient.discharged_at = timezone.now()
    patient.save()
    assert reason_of(lambda: pairing_complete(code=issued.code, serial=stock_device.serial)) == "patient_discharged"
