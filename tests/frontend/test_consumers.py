"""Websockets for the live screens: access at connect, snapshots on sync, events forwarded."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from alerts.services import alert_acknowledge
from frontend.consumers import CLOSE_FORBIDDEN
from frontend.routing import websocket_urlpatterns
from tests.frontend.conftest import make_alert, make_patient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def as_user(user: Any) -> Any:
    """The websocket router with ``user`` already in scope, as AuthMiddlewareStack would put it."""
    router = URLRouter(websocket_urlpatterns)

    async def app(scope, receive, send):
        return await router({**scope, "user": user}, receive, send)

    return app


async def open_socket(user: Any, path: str) -> tuple[WebsocketCommunicator, bool, Any]:
    communicator = WebsocketCommunicator(as_user(user), path)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def test_a_clinician_cannot_subscribe_to_another_wards_group(other_ward, clinician):
    # given a clinician who is not on the other ward
    # when they open that ward's socket
    communicator, connected, code = await open_socket(clinician, f"/ws/ward/{other_ward.pk}/")

    # then the socket is refused with the forbidden code
    assert connected is False and code == CLOSE_FORBIDDEN
    await communicator.disconnect()


async def test_an_anonymous_visitor_cannot_open_any_live_socket(ward):
    # given nobody signed in
    for path in (f"/ws/ward/{ward.pk}/", "/ws/wards/", "/ws/alerts/"):
        # when a socket is opened
        communicator, connected, code = await open_socket(AnonymousUser(), path)

        # then it is refused
        assert connected is False and code == CLOSE_FORBIDDEN, path
        await communicator.disconnect()


async def test_a_clinician_cannot_watch_a_patient_on_another_ward(other_ward, clinician):
    # given a patient on a ward the clinician is not on
    patient = await database_sync_to_async(make_patient)(other_ward)

    # when they open the patient's socket
    communicator, connected, code = await open_socket(clinician, f"/ws/patient/{patient.pk}/")

    # then it is refused
    assert connected is False and code == CLOSE_FORBIDDEN
    await communicator.disconnect()


async def test_sync_returns_a_full_snapshot_of_the_ward_with_open_alerts(ward, clinician):
    # given a high-risk patient with an open alert
    patient = await database_sync_to_async(make_patient)(ward, risk="high")
    alert = await database_sync_to_async(make_alert)(patient)
    communicator, connected, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")
    assert connected

    # when the client asks to sync
    await communicator.send_json_to({"type": "sync"})
    snapshot = await communicator.receive_json_from(timeout=5)

    # then it gets the rows, the open alerts and the rendered board
    assert snapshot["type"] == "snapshot"
    assert [row["id"] for row in snapshot["rows"]] == [patient.pk]
    assert [a["id"] for a in snapshot["alerts"]] == [alert.pk]
    assert f'data-patient-id="{patient.pk}"' in snapshot["html"]
    await communicator.disconnect()


async def test_a_reconnecting_client_catches_up_on_an_alert_raised_while_it_was_away(ward, clinician):
    # given a dashboard that connected, synced, and then lost its connection
    patient = await database_sync_to_async(make_patient)(ward, risk="high")
    first, _, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")
    await first.send_json_to({"type": "sync"})
    before = await first.receive_json_from(timeout=5)
    await first.disconnect()

    # when an alert is raised during the blip and the client reconnects and syncs
    alert = await database_sync_to_async(make_alert)(patient)
    second, connected, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")
    await second.send_json_to({"type": "sync"})
    after = await second.receive_json_from(timeout=5)

    # then the alert it missed is in the new snapshot
    assert before["alerts"] == []
    assert connected and [a["id"] for a in after["alerts"]] == [alert.pk]
    await second.disconnect()


async def test_live_events_for_the_ward_are_forwarded_to_its_dashboards(ward, clinician):
    # given a dashboard open on the ward
    communicator, connected, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")
    assert connected

    # when a score event is published to the ward's group
    message = {
        "type": "live.event",
        "event": "score.updated",
        "ward_id": ward.pk,
        "patient_id": 7,
        "at": "2026-11-23T10:00:00+00:00",
        "data": {"total": 7},
    }
    await get_channel_layer().group_send(f"ward.{ward.pk}", message)
    received = await communicator.receive_json_from(timeout=5)

    # then the dashboard receives it
    assert received == {"type": "event", **{k: v for k, v in message.items() if k != "type"}}
    await communicator.disconnect()


async def test_an_operator_on_the_all_wards_board_gets_events_from_every_ward(ward, other_ward, operator):
    # given an operator's all-wards socket
    communicator, connected, _ = await open_socket(operator, "/ws/wards/")
    assert connected

    # when an event goes to the all-wards group
    await get_channel_layer().group_send(
        "wards.all",
        {
            "type": "live.event",
            "event": "alert.raised",
            "ward_id": other_ward.pk,
            "patient_id": 1,
            "at": "2026-11-23T10:00:00+00:00",
            "data": {},
        },
    )

    # then it arrives
    assert (await communicator.receive_json_from(timeout=5))["event"] == "alert.raised"
    await communicator.disconnect()


async def test_acknowledging_anywhere_tells_every_open_queue_at_once(ward, clinician, operator):
    # given an open high alert and two triage queues open
    patient = await database_sync_to_async(make_patient)(ward, risk="high")
    alert = await database_sync_to_async(make_alert)(patient)
    queues = [(await open_socket(user, "/ws/alerts/"))[0] for user in (clinician, operator)]

    # when the clinician acknowledges it
    await database_sync_to_async(alert_acknowledge)(alert=alert, user=clinician)

    # then both queues hear that the alert is no longer open
    for queue in queues:
        event = await queue.receive_json_from(timeout=5)
        assert (event["event"], event["data"]["id"], event["data"]["state"]) == (
            "alert.updated",
            alert.pk,
            "acknowledged",
        )
        await queue.disconnect()


async def test_the_triage_snapshot_lists_the_queue(ward, clinician):
    # given an open alert
    patient = await database_sync_to_async(make_patient)(ward, risk="high")
    alert = await database_sync_to_async(make_alert)(patient)
    communicator, _, _ = await open_socket(clinician, "/ws/alerts/")

    # when the queue syncs
    await communicator.send_json_to({"type": "sync"})
    snapshot = await communicator.receive_json_from(timeout=5)

    # then the alert is in it with its acknowledge button
    assert [a["id"] for a in snapshot["alerts"]] == [alert.pk]
    assert f'id="alert-{alert.pk}"' in snapshot["html"] and 'data-action="acknowledge"' in snapshot["html"]
    await communicator.disconnect()


async def test_an_unknown_message_gets_a_clear_error_not_a_dropped_socket(ward, clinician):
    # given an open socket
    communicator, _, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")

    # when something unexpected is sent
    await communicator.send_json_to({"type": "subscribe", "ward": 99})
    reply = await communicator.receive_json_from(timeout=5)

    # then the reply says what is understood
    assert reply["type"] == "error" and "sync" in reply["error"]
    await communicator.disconnect()


async def test_the_deployed_stack_knows_the_user_from_their_session_cookie(ward, clinician):
    # given a signed-in browser session for the clinician
    from django.test import Client

    from virtualward.asgi import application

    browser = Client()
    await database_sync_to_async(browser.force_login)(clinician)
    headers = [
        (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
    ]

    # when the socket is opened through the full ASGI application (origin check, session, auth)
    communicator = WebsocketCommunicator(application, f"/ws/ward/{ward.pk}/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    anonymous = WebsocketCommunicator(application, f"/ws/ward/{ward.pk}/", headers=headers[1:])
    anonymous_connected, _ = await anonymous.connect(timeout=5)

    # then the session's user is let in and a cookieless visitor is not
    assert connected is True
    assert anonymous_connected is False
    await communicator.disconnect()
    await anonymous.disconnect()
