"""A locked-out clinician is told how long to wait and whom to call, not shown bare text."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.utils import reset
from django.core.cache import cache

from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def clean_limits(settings, db):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VW_TRUSTED_PROXIES = []
    cache.clear()
    reset()
    yield
    cache.clear()
    reset()


def sign_in(client, password: str, remote: str = "203.0.113.9"):
    return client.post("/accounts/login/", {"username": "dr-locked", "password": password}, REMOTE_ADDR=remote)


def test_the_lock_out_page_says_how_long_and_whom_to_call(client, settings):
    # given a service desk configured, a 15-minute cool-off and a clinician who mistyped five times
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)
    settings.VW_SUPPORT_CONTACT = "the clinical systems service desk"
    settings.VW_SUPPORT_PHONE = "0300 123 4567"
    UserFactory(username="dr-locked")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong-guess")

    # when they try again, with the right password
    response = sign_in(client, PASSWORD)

    # then the page says they are paused, for how long, and whom to call, with a number to tap
    page = response.content.decode()
    assert response.status_code == 429
    assert "Signing in is paused for 15 minutes" in page
    assert "the clinical systems service desk" in page and 'href="tel:0300 123 4567"' in page
    assert 'href="/accounts/login/"' in page  # a way back, not a dead end


def test_without_a_phone_number_it_still_names_whom_to_call(client, settings):
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=1)
    settings.VW_SUPPORT_PHONE = ""
    UserFactory(username="dr-locked")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = sign_in(client, "wrong-guess")
    page = response.content.decode()
    assert response.status_code == 429
    assert "Signing in is paused for 1 minute" in page and "1 minutes" not in page
    assert "Call your IT service desk" in page and "tel:" not in page


def test_a_source_over_its_limit_is_told_how_long_and_whom_to_call(client, settings):
    settings.VW_LOGIN_SOURCE_FAILURE_LIMIT = 3
    settings.VW_LOGIN_SOURCE_COOLOFF_MINUTES = 10
    settings.VW_SUPPORT_PHONE = "0300 123 4567"
    UserFactory(username="staff-9")
    for n in range(3):
        client.post("/accounts/login/", {"username": f"staff-{n}", "password": "x"}, REMOTE_ADDR="203.0.113.77")
    # even the right password is refused from that source, in words
    page = client.post(
        "/accounts/login/", {"username": "staff-9", "password": PASSWORD}, REMOTE_ADDR="203.0.113.77"
    ).content.decode()
    assert "wait 10 minutes" in page and "call your IT service desk on 0300 123 4567" in page
    assert "_auth_user_id" not in client.session
    # while another source signs in as before
    elsewhere = client.post(
        "/accounts/login/", {"username": "staff-9", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5"
    )
    assert elsewhere.status_code == 302 and "_auth_user_id" in client.session
