"""Every role boundary tried from the API, a page and a websocket: each holds the same way."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import NoReverseMatch, Resolver404, resolve
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alerts.models import Alert, AlertState
from tests.access.conftest import EXPECTED

API_DENIED = {401, 403, 404}


def api_client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def require_route(path: str) -> None:
    # A missing route would make every "denied" look right; refuse to judge it instead.
    try:
        resolve(path.split("?")[0])
    except (Resolver404, NoReverseMatch):
        pytest.fail(f"{path} is not routed: the boundary cannot be tested")


def api_patient(world, user) -> bool:
    path = f"/api/v1/patients/{world['patient'].pk}/"
    require_route(path)
    response = api_client(user).get(path)
    assert response.status_code in API_DENIED | {200}
    return response.status_code == 200 and response.json()["id"] == world["patient"].pk


def api_score(world, user) -> bool:
    path = f"/api/v1/patients/{world['patient'].pk}/score/"
    require_route(path)
    response = api_client(user).get(path)
    assert response.status_code in API_DENIED | {200}
    return response.status_code == 200


def api_observations(world, user) -> bool:
    path = f"/api/v1/observations/?patient={world['patient'].pk}"
    require_route(path)
    response = api_client(user).get(path)
    assert response.status_code in API_DENIED | {200, 400}
    if response.status_code != 200:
        return False
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    return world["observation"].pk in {row["id"] for row in rows}


def api_alert_acknowledge(world, user) -> bool:
    path = f"/api/v1/alerts/{world['alert'].pk}/acknowledge/"
    require_route(path)
    response = api_client(user).post(path, {}, format="json")
    acknowledged = Alert.objects.get(pk=world["alert"].pk).state == AlertState.ACKNOWLEDGED
    if response.status_code >= 400:
        assert response.status_code in API_DENIED and not acknowledged
        return False
    return acknowledged


def page(path_of):
    def probe(world, user) -> bool:
        path = path_of(world)
        require_route(path)
        client = Client()
        if user is not None:
            client.force_login(user)
        response = client.get(path)
        if response.status_code == 302:
            assert "/accounts/login/" in response["Location"]
            return False
        assert response.status_code in {200, 403, 404}
        return response.status_code == 200

    return probe


def websocket(path_of):
    def probe(world, user) -> bool:
        headers = [(b"origin", b"http://testserver")]
        if user is not None:
            client = Client()
            client.force_login(user)
            headers.append((b"cookie", f"sessionid={client.session.session_key}".encode()))
        return async_to_sync(_ws_connects)(path_of(world), headers)

    return probe


async def _ws_connects(path: str, headers: list) -> bool:
    from virtualward.asgi import application

    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()
    return connected


ROUTES = {
    "api patient record": api_patient,
    "api patient score": api_score,
    "api observations of a patient": api_observations,
    "api acknowledge an alert": api_alert_acknowledge,
    "page patient": page(lambda w: f"/patients/{w['patient'].pk}/"),
    "page ward": page(lambda w: f"/wards/{w['ward'].pk}/"),
    "websocket ward": websocket(lambda w: f"/ws/ward/{w['ward'].pk}/"),
    "websocket patient": websocket(lambda w: f"/ws/patient/{w['patient'].pk}/"),
}


# A socket's connect makes more than one database call (the access check, then its audit), each
# through Channels' database_sync_to_async, which closes a connection left in a transaction: the
# socket cases commit their data instead of running inside the test's transaction.
ROUTE_PARAMS = [
    pytest.param(name, marks=pytest.mark.django_db(transaction=True)) if name.startswith("websocket") else name
    for name in ROUTES
]


@pytest.mark.parametrize("actor", list(EXPECTED))
@pytest.mark.parametrize("route", ROUTE_PARAMS)
def test_a_patient_on_ward_a_is_reachable_only_by_those_allowed(world, route, actor):
    # given a patient on ward A and someone trying to reach them
    user = world["actors"][actor]

    # when they try this route
    reached = ROUTES[route](world, user)

    # then they get through exactly when their role and wards allow it
    assert reached is EXPECTED[actor], f"{actor} {'reached' if reached else 'was kept from'} {route}"
