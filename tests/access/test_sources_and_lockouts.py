"""Rate limits key on the real source: forwarded headers count only from trusted proxies, no
stranger can lock a patient or a clinician out, and spraying one password over many usernames
is stopped."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from devices.pairing import pairing_code_issue
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from virtualward.client_ip import client_ip, source_key

PROXY = "172.18.0.5"
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def clean_limits(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.MQTT_URL = ""
    settings.VW_TRUSTED_PROXIES = []
    cache.clear()
    yield
    cache.clear()


def request_from(remote: str, forwarded: str | None = None) -> SimpleNamespace:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return SimpleNamespace(META=meta)


# --- Whose address is it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # nobody trusted: the header is ignored
        (["172.16.0.0/12"], "203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not sent by our proxy
        (["172.16.0.0/12"], PROXY, "198.51.100.1", "198.51.100.1"),  # our proxy says who
        (["172.16.0.0/12"], PROXY, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # left of it is the client's own
        (["172.16.0.0/12", "10.0.0.0/8"], PROXY, "198.51.100.1, 10.0.0.7", "198.51.100.1"),  # two proxies
        (["172.16.0.0/12"], PROXY, "not-an-address", PROXY),  # mangled: never trusted
        (["172.16.0.0/12"], PROXY, None, PROXY),
    ],
)
def test_the_client_address_believes_forwarded_headers_only_from_trusted_proxies(
    settings, trusted, remote, forwarded, expected
):
    settings.VW_TRUSTED_PROXIES = trusted
    assert client_ip(request_from(remote, forwarded)) == expected


def test_an_ipv6_client_is_limited_by_its_64_block_and_a_mapped_ipv4_by_its_address():
    assert source_key("2001:db8:1:2::1") == source_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key("::ffff:203.0.113.9") == "203.0.113.9"


def test_a_bad_trusted_proxy_setting_fails_at_start_up(monkeypatch):
    from virtualward.env import ImproperlyConfiguredEnv, env_cidrs

    monkeypatch.setenv("VW_TRUSTED_PROXIES", "172.16.0.0/12, not-a-network")
    with pytest.raises(ImproperlyConfiguredEnv, match="VW_TRUSTED_PROXIES"):
        env_cidrs("VW_TRUSTED_PROXIES")


# --- Pairing -----------------------------------------------------------------------------------


@pytest.fixture
def live_code(db):
    patient = PatientFactory()
    clinician = UserFactory()
    patient.ward.staff.add(clinician)
    return pairing_code_issue(patient=patient, user=clinician).code


def pair(code: str, serial: str, remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return APIClient().post("/api/v1/pairing/", {"code": code, "serial": serial}, format="json", **extra)


def test_a_forged_forwarded_header_does_not_buy_a_guesser_more_tries(settings, live_code):
    # given one address that sends a new X-Forwarded-For with every wrong guess
    settings.VW_PAIRING_MAX_FAILURES = 3
    for n in range(3):
        assert pair(f"ZZZZ-{n + 2}{n + 2}{n + 2}{n + 2}", "x", "203.0.113.9", f"192.0.2.{n}").status_code == 400

    # when it guesses again under yet another forged address, then it is told to wait
    assert pair("ZZZZ-9999", "x", "203.0.113.9", "192.0.2.77").status_code == 429


def test_the_request_throttle_is_not_dodged_with_a_new_forwarded_address_each_time(settings, live_code):
    # given the guessing limit out of the way, so only the request throttle (10/min) counts
    settings.VW_PAIRING_MAX_FAILURES = 1000
    answers = [pair("XXXX-2345", "x", "203.0.113.10", f"192.0.2.{n}").status_code for n in range(12)]

    # then the requests past the rate are throttled although each claimed another address
    assert answers[:10] == [400] * 10 and answers[10:] == [429, 429]


def test_wrong_guesses_sharing_a_live_codes_first_characters_do_not_lock_that_code(settings, live_code):
    # given guessers on many addresses, each trying codes that begin like the live one
    settings.VW_PAIRING_MAX_FAILURES = 3
    prefix = live_code.split("-")[0]
    for n in range(8):
        assert pair(f"{prefix}-{'2345'[n % 4] * 4}", "x", f"192.0.2.{n + 1}").status_code == 400

    # when the patient enters their code from their own address
    device = DeviceFactory(patient=None, paired_at=None, secret_hash="")
    response = pair(live_code, device.serial, "198.51.100.7")

    # then it pairs
    assert response.status_code == 201


def test_behind_a_trusted_proxy_each_patient_has_their_own_limit(settings, live_code):
    # given the platform behind the compose proxy, and one patient who used up their tries
    settings.VW_TRUSTED_PROXIES = ["172.16.0.0/12"]
    settings.VW_PAIRING_MAX_FAILURES = 3
    for n in range(3):
        pair(f"YYYY-{'2345'[n] * 4}", "x", PROXY, "203.0.113.20")
    assert pair("YYYY-6666", "x", PROXY, "203.0.113.20").status_code == 429

    # when another patient, through the same proxy, pairs with their code
    device = DeviceFactory(patient=None, paired_at=None, secret_hash="")
    response = pair(live_code, device.serial, PROXY, "198.51.100.30")

    # then the first patient's limit is not theirs
    assert response.status_code == 201


# --- Log-in ------------------------------------------------------------------------------------


def sign_in(client, username: str, password: str, remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


def signed_in(response) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.is_authenticated


@pytest.fixture
def clinician_login(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return UserFactory(username="dr-named")


def test_the_same_source_is_locked_out_of_one_account_after_too_many_wrong_passwords(client, settings, clinician_login):
    # given five wrong passwords for one username from one address
    for _ in range(settings.AXES_FAILURE_LIMIT):
        assert not signed_in(sign_in(client, "dr-named", "wrong-guess", "203.0.113.9"))

    # when the right password comes from that address, then it is refused too
    assert not signed_in(sign_in(client, "dr-named", PASSWORD, "203.0.113.9"))


def test_a_stranger_cannot_lock_a_named_clinician_out(client, settings, clinician_login):
    # given a stranger who fails to sign in as the clinician many times, forging the
    # clinician's own address in X-Forwarded-For
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        sign_in(client, "dr-named", "wrong-guess", "203.0.113.66", forwarded="198.51.100.8")

    # when the clinician signs in from their own address
    response = sign_in(client, "dr-named", PASSWORD, "198.51.100.8")

    # then they get in
    assert signed_in(response)


def test_behind_a_trusted_proxy_a_stranger_cannot_lock_a_named_clinician_out(client, settings, clinician_login):
    # given the platform behind the compose proxy and a stranger failing as the clinician
    settings.VW_TRUSTED_PROXIES = ["172.16.0.0/12"]
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        sign_in(client, "dr-named", "wrong-guess", PROXY, forwarded="203.0.113.66")

    # when the clinician signs in through the same proxy from their own address, then they get in
    assert signed_in(sign_in(client, "dr-named", PASSWORD, PROXY, forwarded="198.51.100.8"))


def test_one_password_sprayed_over_many_usernames_is_stopped_at_the_source(client, settings, clinician_login):
    # given one address trying one password against thirty usernames
    settings.VW_LOGIN_SOURCE_FAILURE_LIMIT = 20
    for n in range(30):
        sign_in(client, f"staff-{n}", "Summer2026!", "203.0.113.77")

    # when that address then tries a real username with its right password
    response = sign_in(client, "dr-named", PASSWORD, "203.0.113.77")

    # then it is refused, and told why in words
    assert not signed_in(response)
    assert "Too many failed sign-ins from your network" in response.content.decode()
    # and the clinician, from anywhere else, is not affected
    assert signed_in(sign_in(client, "dr-named", PASSWORD, "198.51.100.8"))


def test_failures_below_the_source_limit_do_not_stop_a_right_password(client, settings, clinician_login):
    # given a shared hospital address where colleagues mistyped a few passwords
    settings.VW_LOGIN_SOURCE_FAILURE_LIMIT = 20
    for n in range(4):
        sign_in(client, f"colleague-{n}", "typo", "198.51.100.200")

    # when the clinician signs in from the same address, then they get in
    assert signed_in(sign_in(client, "dr-named", PASSWORD, "198.51.100.200"))


def test_the_image_runs_daphne_without_trusting_forwarded_headers_itself():
    # daphne's --proxy-headers would take the client's address from X-Forwarded-For's left-most
    # entry, which the client writes, before virtualward/client_ip.py could check who sent it.
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "daphne" in command and "--proxy-headers" not in command
