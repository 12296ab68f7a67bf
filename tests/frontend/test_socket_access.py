"""An open websocket keeps only the access its user still has: log-out, an expired session, a
lost ward or role, or a switched-off account close it."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from accounts.staffing import staff_deactivate, staff_role_set, ward_staff_remove
from frontend.consumers import CLOSE_FORBIDDEN, CLOSE_SIGNED_OUT
from frontend.events import publish
from frontend.routing import websocket_urlpatterns
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


@pytest.fixture(autouse=True)
def quick_rechecks(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VW_SOCKET_RECHECK_SECONDS = 600  # long: each test says which check closes its socket


@database_sync_to_async
def signed_in_browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


async def open_socket(browser: Client, path: str) -> WebsocketCommunicator:
    cookie = f"sessionid={browser.cookies['sessionid'].value}".encode()
    communicator = WebsocketCommunicator(APP, path, headers=[(b"cookie", cookie), (b"origin", b"http://testserver")])
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def closed_with(communicator: WebsocketCommunicator, timeout: float = 3) -> int:
    """The close code the server sent, skipping any event that was on its way first."""
    while True:
        output = await communicator.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output["code"]


@database_sync_to_async
def ward_event(ward: Any) -> None:
    publish("alert.raised", ward_id=ward.pk, data={"probe": True})


async def still_receives(communicator: WebsocketCommunicator, ward: Any) -> bool:
    await ward_event(ward)
    message = await communicator.receive_json_from(timeout=3)
    return message["type"] == "event" and message["data"] == {"probe": True}


async def test_logging_out_closes_that_sessions_sockets_at_once_and_no_other(ward, clinician):
    # given a clinician signed in on two computers, each watching the ward
    office, bedside = await signed_in_browser(clinician), await signed_in_browser(clinician)
    office_socket = await open_socket(office, f"/ws/ward/{ward.pk}/")
    bedside_socket = await open_socket(bedside, f"/ws/ward/{ward.pk}/")

    # when they log out on the office computer
    await database_sync_to_async(office.post)("/accounts/logout/")

    # then the office socket is closed as signed out, and the bedside one keeps receiving
    assert await closed_with(office_socket) == CLOSE_SIGNED_OUT
    assert await still_receives(bedside_socket, ward)
    await bedside_socket.disconnect()


async def test_a_socket_closes_when_its_session_expires(settings, ward, clinician):
    # given a socket whose session expires in a second, and no periodic check before then
    browser = await signed_in_browser(clinician)
    key = browser.cookies["sessionid"].value
    await database_sync_to_async(Session.objects.filter(session_key=key).update)(
        expire_date=timezone.now() + dt.timedelta(seconds=1)
    )
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")

    # when the session's time runs out, then the socket is closed as signed out
    assert await closed_with(socket, timeout=4) == CLOSE_SIGNED_OUT


async def test_the_periodic_check_closes_a_socket_whose_session_was_ended_elsewhere(settings, ward, clinician):
    # given a socket, and a session deleted behind the services' back (an administrator's purge)
    settings.VW_SOCKET_RECHECK_SECONDS = 0.2
    browser = await signed_in_browser(clinician)
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")
    await database_sync_to_async(Session.objects.filter(session_key=browser.cookies["sessionid"].value).delete)()

    # then the next check closes it
    assert await closed_with(socket) == CLOSE_SIGNED_OUT


async def test_removing_a_clinician_from_a_ward_closes_that_wards_socket_at_once(ward, other_ward, clinician):
    # given a clinician on two wards, watching both
    await database_sync_to_async(other_ward.staff.add)(clinician)
    browser = await signed_in_browser(clinician)
    leaving = await open_socket(browser, f"/ws/ward/{ward.pk}/")
    staying = await open_socket(browser, f"/ws/ward/{other_ward.pk}/")

    # when they are taken off the first ward
    await database_sync_to_async(ward_staff_remove)(ward=ward, user=clinician)

    # then its socket closes as forbidden, and the other ward's keeps receiving
    assert await closed_with(leaving) == CLOSE_FORBIDDEN
    assert await still_receives(staying, other_ward)
    await staying.disconnect()


async def test_an_operator_made_a_clinician_loses_the_all_wards_socket(operator, ward):
    # given an operator watching every ward and the alert queue
    browser = await signed_in_browser(operator)
    board = await open_socket(browser, "/ws/wards/")
    queue = await open_socket(browser, "/ws/alerts/")

    # when their role becomes clinician (of no ward yet)
    await database_sync_to_async(staff_role_set)(user=operator, role=Role.CLINICIAN)

    # then both sockets close as forbidden
    assert await closed_with(board) == CLOSE_FORBIDDEN
    assert await closed_with(queue) == CLOSE_FORBIDDEN


async def test_a_switched_off_account_loses_its_sockets(ward, clinician):
    browser = await signed_in_browser(clinician)
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")
    await database_sync_to_async(staff_deactivate)(user=clinician)
    assert await closed_with(socket) == CLOSE_SIGNED_OUT


async def test_a_change_that_keeps_access_keeps_the_socket(ward, clinician):
    # given a clinician watching their ward
    browser = await signed_in_browser(clinician)
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")

    # when they are made an operator (who sees every ward)
    await database_sync_to_async(staff_role_set)(user=clinician, role=Role.OPERATOR)

    # then the socket stays open and keeps receiving
    assert await still_receives(socket, ward)
    await socket.disconnect()


async def test_taking_a_clinician_off_a_ward_in_the_admin_closes_their_socket(ward, clinician):
    # given a clinician watching their ward, and an administrator editing that ward
    browser = await signed_in_browser(clinician)
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")
    admin = await database_sync_to_async(UserFactory)(username="ward-admin", role=Role.ADMINISTRATOR)
    await database_sync_to_async(type(admin).objects.filter(pk=admin.pk).update)(is_staff=True, is_superuser=True)
    admin_browser = await signed_in_browser(admin)

    # when the administrator saves the ward without the clinician
    form = {"name": ward.name, "pathway": ward.pathway, "phone": ward.phone, "staff": []}
    saved = await database_sync_to_async(admin_browser.post)(f"/admin/patients/ward/{ward.pk}/change/", form)
    assert saved.status_code == 302

    # then the clinician's socket closes as forbidden
    assert await closed_with(socket) == CLOSE_FORBIDDEN


async def test_a_session_extended_after_connect_keeps_its_socket_past_the_old_expiry(ward, clinician):
    # given a socket whose session was due to expire in a second, then extended by a page request
    browser = await signed_in_browser(clinician)
    sessions = Session.objects.filter(session_key=browser.cookies["sessionid"].value)
    await database_sync_to_async(sessions.update)(expire_date=timezone.now() + dt.timedelta(seconds=1))
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")
    await database_sync_to_async(sessions.update)(expire_date=timezone.now() + dt.timedelta(hours=1))

    # when the old expiry has passed
    await asyncio.sleep(2)

    # then the socket is still open and receiving
    assert await still_receives(socket, ward)
    await socket.disconnect()


async def test_a_password_change_elsewhere_closes_the_old_sessions_socket(settings, ward, clinician):
    # given a socket, and the account's password changed behind the services' back
    settings.VW_SOCKET_RECHECK_SECONDS = 0.2
    browser = await signed_in_browser(clinician)
    socket = await open_socket(browser, f"/ws/ward/{ward.pk}/")

    def change_password() -> None:
        clinician.set_password("a-new-long-password")
        clinician.save()

    await database_sync_to_async(change_password)()

    # then the next check finds the session no longer matches and closes the socket
    assert await closed_with(socket) == CLOSE_SIGNED_OUT
