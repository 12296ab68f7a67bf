"""A device collects its broker credentials with its factory key; the serial alone gets nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from devices.credentials import claim_key_hash, claim_key_verify, secret_verify
from devices.models import Device
from devices.pairing import pairing_code_issue, pairing_complete
from devices.registry import RegistryError, device_register
from tests.pairing.conftest import STOCK_CLAIM_KEY

COLLECT = "/api/v1/pairing/collect/"


def collect(body: dict, address: str = "203.0.113.50"):
    return APIClient().post(COLLECT, body, format="json", REMOTE_ADDR=address)


def test_the_serial_alone_collects_nothing(paired_from_the_page):
    # when someone who knows only the serial asks for the device's credentials
    response = collect({"serial": paired_from_the_page.serial})

    # then they are refused, and the device still has no secret
    assert response.status_code == 400 and "claim_key" in response.json()
    assert Device.objects.get(pk=paired_from_the_page.pk).secret_hash == ""


def test_a_wrong_factory_key_is_refused_without_saying_whether_the_serial_exists(paired_from_the_page):
    # when a wrong key is given for the real serial, and any key for a serial that does not exist
    wrong_key = collect({"serial": paired_from_the_page.serial, "claim_key": "not-the-factory-key"})
    no_device = collect({"serial": "SN-NOBODY", "claim_key": "not-the-factory-key"})

    # then both get the same refusal, and the device still has no secret
    assert wrong_key.status_code == no_device.status_code == 400
    assert wrong_key.json() == no_device.json()
    assert wrong_key.json()["reason"] == "device_not_recognised"
    assert Device.objects.get(pk=paired_from_the_page.pk).secret_hash == ""


def test_wrong_factory_keys_are_throttled_per_source(settings, paired_from_the_page):
    # given a source that has guessed wrongly up to the limit
    settings.VW_PAIRING_MAX_FAILURES = 3
    for n in range(3):
        assert collect({"serial": paired_from_the_page.serial, "claim_key": f"guess-{n}"}).status_code == 400

    # when it then tries the right key, it is told to wait
    right = {"serial": paired_from_the_page.serial, "claim_key": STOCK_CLAIM_KEY}
    refused = collect(right)
    assert refused.status_code == 429 and refused.json()["reason"] == "too_many_attempts"
    # and the device itself, from its own address, is not locked out by the guesser
    assert collect(right, address="198.51.100.23").status_code == 200


def test_the_right_factory_key_collects_working_credentials(paired_from_the_page):
    # when the device presents its serial and factory key
    response = collect({"serial": paired_from_the_page.serial.lower(), "claim_key": STOCK_CLAIM_KEY})

    # then it gets its id and a secret the broker will accept, recorded in the audit trail
    assert response.status_code == 200
    body = response.json()
    device = Device.objects.get(pk=paired_from_the_page.pk)
    assert body["device_id"] == device.device_id and secret_verify(body["secret"], device.secret_hash)
    assert AuditEvent.objects.filter(action="device.credentials_collected", object_id=str(device.pk)).exists()


def test_collecting_twice_is_refused_and_the_first_secret_stays_the_only_one(paired_from_the_page):
    # given a device that has collected its credentials
    first = collect({"serial": paired_from_the_page.serial, "claim_key": STOCK_CLAIM_KEY}).json()

    # when the same serial and key ask again
    again = collect({"serial": paired_from_the_page.serial, "claim_key": STOCK_CLAIM_KEY})

    # then no second secret is handed out: the refusal is recorded and the first secret still works
    assert again.status_code == 400 and again.json()["reason"] == "already_collected"
    assert "secret" not in again.json()
    assert secret_verify(first["secret"], Device.objects.get(pk=paired_from_the_page.pk).secret_hash)
    assert AuditEvent.objects.filter(action="device.credentials_collect_refused").count() == 1


def test_a_device_registered_without_a_factory_key_cannot_collect(patient, clinician):
    # given a device registered before factory keys, paired from the page
    legacy = Device.objects.create(serial="SN-LEGACY-1", kind="thermometer")
    issued = pairing_code_issue(patient=patient, user=clinician)
    pairing_complete(code=issued.code, serial=legacy.serial, issue_credentials=False)

    # when anything is offered as its key, then it is refused: there is nothing to match
    assert collect({"serial": legacy.serial, "claim_key": ""}).status_code == 400
    assert collect({"serial": legacy.serial, "claim_key": "anything"}).json()["reason"] == "device_not_recognised"


def test_only_a_hash_of_the_factory_key_is_stored_and_it_checks_in_constant_time(db):
    # when a device is registered in stock
    device, key = device_register(serial="SN-KEYED-1", kind="pulse_oximeter")

    # then the key is long and random, only its hash is kept, and only the key itself matches
    assert len(key) >= 22 and key not in device.claim_key_hash
    assert device.claim_key_hash == claim_key_hash(key)
    assert claim_key_verify(key, device.claim_key_hash)
    assert not claim_key_verify(key + "x", device.claim_key_hash)
    assert not claim_key_verify("", device.claim_key_hash) and not claim_key_verify(key, "")


def test_registering_a_serial_twice_is_refused_with_a_reason(db):
    device_register(serial="SN-TWICE", kind="scales")
    with pytest.raises(RegistryError, match="already registered"):
        device_register(serial="sn-twice", kind="scales")
    with pytest.raises(RegistryError, match="not a device kind"):
        device_register(serial="SN-OTHER", kind="toaster")


def test_the_register_command_prints_the_key_once_and_rekeys_on_request(db, capsys):
    # when a device is registered from the command line, then re-keyed
    call_command("register_device", "SN-CLI-1", "--kind", "thermometer")
    first = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]
    call_command("register_device", "SN-CLI-1", "--new-key")
    second = capsys.readouterr().out.strip().rsplit(" ", 1)[-1]

    # then only the newest key matches the stored hash
    stored = Device.objects.get(serial="SN-CLI-1").claim_key_hash
    assert first != second and claim_key_verify(second, stored) and not claim_key_verify(first, stored)


def test_a_device_added_in_the_admin_gets_a_factory_key_shown_once(client, db):
    # given an administrator
    admin_user = get_user_model().objects.create_superuser("registry-admin", password="x-very-long-pass")
    client.force_login(admin_user)

    # when they add a device to stock in the admin
    form = {"kind": "thermometer", "serial": "SN-ADMIN-1", "mode": "spot_check", "expected_interval_s": 14400}
    page = client.post("/admin/devices/device/add/", form, follow=True).content.decode()

    # then the next page shows its factory key once, and only its hash is stored
    key = page.split("(shown once, load it into the device): ")[1].split("<")[0].strip()
    device = Device.objects.get(serial="SN-ADMIN-1")
    assert claim_key_verify(key, device.claim_key_hash) and key not in device.claim_key_hash
    assert key not in client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
