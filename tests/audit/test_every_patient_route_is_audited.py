"""Every route that shows or changes a patient's data leaves an audit event naming that patient.

The URL configuration (HTTP and websocket) is enumerated: a route that is neither exercised
below nor listed, with its reason, as showing no patient's data fails the suite, so a new
route cannot be added unaudited by accident.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role
from alerts.models import AlertEvent, Severity
from devices.models import ConnectivityGap, PairingCode
from frontend.routing import websocket_urlpatterns
from patients.models import SpO2ScaleChange
from tests.factories import ObservationFactory, UserFactory
from tests.frontend.conftest import make_alert, make_patient


@dataclass(frozen=True)
class Case:
    method: str
    path: str  # formatted with the world's ids
    action: str
    data: dict[str, Any] = field(default_factory=dict)
    who: str = "clinician"
    status: int = 200
    about_the_patient: bool = True  # False: the event names another patient (an admission)


READS = {
    "patient-list": Case("GET", "/api/v1/patients/", "patient.listed"),
    "patient-detail": Case("GET", "/api/v1/patients/{patient}/", "patient.viewed"),
    "patient-score": Case("GET", "/api/v1/patients/{patient}/score/", "patient.score_viewed"),
    "patient-scores": Case("GET", "/api/v1/patients/{patient}/scores/", "patient.scores_viewed"),
    "patient-spo2-scale": Case("GET", "/api/v1/patients/{patient}/spo2-scale/", "patient.spo2_scale_viewed"),
    "patient-fhir": Case("GET", "/api/v1/patients/{patient}/fhir/", "patient.fhir_exported"),
    "observation-list": Case("GET", "/api/v1/observations/?patient={patient}", "observation.listed"),
    "observation-detail": Case("GET", "/api/v1/observations/{observation}/", "observation.viewed"),
    "observation-fhir": Case("GET", "/api/v1/observations/{observation}/fhir/", "observation.fhir_exported"),
    "device-list": Case("GET", "/api/v1/devices/", "device.listed"),
    "device-detail": Case("GET", "/api/v1/devices/{device}/", "device.viewed"),
    "device-connectivity": Case("GET", "/api/v1/devices/{device}/connectivity/", "device.connectivity"),
    "rota:handover": Case("GET", "/handover/?ward={ward}", "handover.viewed"),
    "alert-list": Case("GET", "/api/v1/alerts/", "alert.listed"),
    "alert-detail": Case("GET", "/api/v1/alerts/{alert}/", "alert.viewed"),
    "frontend:wards": Case("GET", "/wards/", "ward.board_viewed"),
    "frontend:ward": Case("GET", "/wards/{ward}/", "ward.board_viewed"),
    "frontend:triage": Case("GET", "/triage/", "alert.queue_viewed"),
    "frontend:patient": Case("GET", "/patients/{patient}/", "patient.viewed"),
    "frontend:patient-series": Case("GET", "/patients/{patient}/series.json", "patient.chart_viewed"),
    "frontend:pairing-code": Case("GET", "/patients/{patient}/pairing-code/", "patient.pairing_viewed"),
}
WRITES = {
    "observation-list:post": Case(
        "POST", "/api/v1/observations/", "observation.recorded", status=201,
        data={"patient": "{patient}", "type": "heart_rate", "value": 88, "measured_at": "{now}"},
    ),
    "frontend:patient-observation": Case(
        "POST", "/patients/{patient}/observations/", "observation.recorded", status=302,
        data={"heart_rate": "88", "measured_at": "{local_now}"},
    ),
    "frontend:patient-preview": Case(
        "GET", "/patients/{patient}/observations/preview/", "patient.news2_previewed",
        data={"heart_rate": "88", "measured_at": "{local_now}"},
    ),
    "patient-spo2-scale:post": Case(
        "POST", "/api/v1/patients/{patient}/spo2-scale/", "patient.spo2_scale_changed", status=201,
        data={"scale": 2, "reason": "hypercapnic respiratory failure"},
    ),
    "frontend:patient-scale": Case(
        "POST", "/patients/{patient}/scale/", "patient.spo2_scale_changed", status=302,
        data={"scale": "2", "reason": "hypercapnic respiratory failure", "confirm_risk": "on"},
    ),
    "patient-list:post": Case(
        "POST", "/api/v1/patients/", "patient.admitted", status=201, about_the_patient=False,
        data={"nhs_number": "9434765919", "given_name": "Ada", "family_name": "Lovelace",
              "date_of_birth": "1950-01-01", "ward": "{ward}"},
    ),
    "patient-discharge": Case("POST", "/api/v1/patients/{patient}/discharge/", "patient.discharged"),
    "alert-acknowledge": Case("POST", "/api/v1/alerts/{alert}/acknowledge/", "alert.acknowledged"),
    "alert-assign": Case("POST", "/api/v1/alerts/{alert}/assign/", "alert.assigned", data={"assignee": "{me}"}),
    "alert-note": Case("POST", "/api/v1/alerts/{alert}/note/", "alert.note", data={"note": "called"}),
    "alert-escalate": Case("POST", "/api/v1/alerts/{alert}/escalate/", "alert.escalated", data={"note": "GP"}),
    "alert-resolve": Case(
        "POST", "/api/v1/alerts/{alert}/resolve/", "alert.resolved",
        # The patient is still in the alert's band, so a review time is needed (alerts.services).
        data={"outcome": "advice_by_phone", "note": "settled",
              "review_by": (timezone.now() + dt.timedelta(hours=2)).isoformat()},
    ),
    "frontend:alert-action": Case(
        "POST", "/triage/alerts/{alert}/acknowledge/", "alert.acknowledged", status=302
    ),
    "frontend:pairing-code:post": Case(
        "POST", "/patients/{patient}/pairing-code/", "pairing.code_issued"
    ),
    "frontend:device-unpair": Case(
        "POST", "/devices/{device}/unpair/", "device.unpaired", status=302, data={"reason": "lost"}
    ),
    "device-unpair": Case("POST", "/api/v1/devices/{device}/unpair/", "device.unpaired", data={"reason": "lost"}),
    "audit-export": Case("GET", "/api/v1/audit/export.csv", "audit.exported", who="administrator",
                         about_the_patient=False),
}  # fmt: skip
# Routes that show no particular patient's data, and why.
NO_PATIENT_DATA = {
    "schema": "the API's description",
    "api-docs": "the API's documentation page",
    "api-root": "links to the API's resources",
    "news2": "a calculator over the vitals it is sent; nothing stored or read",
    "ward-list": "ward names", "ward-detail": "a ward's name",
    "rejection-list": "what ingest refused from devices, never patient data (devices.models.IngestRejection)",
    "rejection-detail": "as rejection-list",
    "alert-summary": "counts and times over many alerts, no patient named",
    "frontend:triage-summary": "counts and times over many alerts, no patient named",
    "frontend:home": "a redirect to the user's board",
    "pairing": "a patient's own device types its code (the code's use is audited as device.paired)",
    "pairing-collect": "a device collects its own credentials (audited as device.credentials_collected)",
    "frontend:pair": "the patient's own pairing page", "frontend:pair-device": "the patient's own pairing page",
    "frontend:pair-wait": "the patient's own pairing page", "frontend:pair-status": "the patient's own pairing page",
    "login": "sign-in", "logout": "sign-out", "password_change": "the user's own password",
    "password_change_done": "the user's own password", "password_reset": "the user's own password",
    "password_reset_done": "the user's own password", "password_reset_confirm": "the user's own password",
    "password_reset_complete": "the user's own password",
    "connectivity-areas": "dropout counts by mobile network and cell, no patient named",
    "rota:rota": "the staff duty rota", "rota:shift-add": "the staff duty rota", "shift-list": "the staff duty rota",
    "rota:push-subscribe": "the signed-in person's own push subscription",
    "rota:handover-start": "a hand-over's people and note; the alerts it moves are audited as alert.handed_over",
    "rota:handover-accept": "as rota:handover-start (rota.handover audits each alert moved)",
    "rota:acknowledge": "an acknowledge link's page; the press is audited as alert.acknowledged (alerts.services)",
    "alert-snooze": "a technical alert's snooze, audited as alert.snoozed by the alert action service",
    "rota:notifications": "audited as notification.listed (rota.views); its rows need a sent message to name a patient",
}  # fmt: skip
SOCKETS = {
    "ws/patient/<int:patient_id>/": ("/ws/patient/{patient}/", "patient.live_opened"),
    "ws/ward/<int:ward_id>/": ("/ws/ward/{ward}/", "ward.board_live_opened"),
    "ws/wards/": ("/ws/wards/", "ward.board_live_opened"),
    "ws/alerts/": ("/ws/alerts/", "alert.queue_live_opened"),
}
# Admin models that hold a patient's data: their list, form, history and delete pages are audited.
ADMIN_PATIENT_MODELS = {
    "patients.patient": "patient",
    "patients.observation": "observation",
    "patients.spo2scalechange": "scale_change",
    "scoring.earlywarningscore": "score",
    "alerts.alert": "alert",
    "alerts.alertevent": "alert_event",
    "devices.device": "device",
    "devices.pairingcode": "pairing_code",
    "devices.connectivitygap": "gap",
}
# Admin models of the merged features that are not yet exercised above: each with its reason.
ADMIN_NOT_YET_EXERCISED = {
    "rota.notification": "a sent message (least patient data: no name or NHS number); its page is not audited yet",
    "devices.devicecertificate": "a device's certificate identity (device id, serial, dates), no patient data",
}
# Admin models without a patient's data, and the audit trail (reading it is audited on export).
ADMIN_OTHER_MODELS = {
    "patients.ward", "auth.group", "auth.user", "accounts.staffprofile", "accounts.auditevent",
    "devices.receivedmessage", "devices.ingestrejection", "authtoken.tokenproxy", "axes.accessattempt",
    "axes.accessfailurelog", "axes.accesslog",
    "rota.shift", "rota.ladderrung", "rota.escalationstep", "rota.staffcontact", "rota.pushsubscription",
}  # fmt: skip


def url_names(patterns: list, namespace: str | None = None) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= url_names(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_route_is_either_audited_here_or_shows_no_patient_data():
    # given every named route of the platform
    names = url_names(get_resolver().url_patterns)
    admin_routes = {name for name in names if name.startswith("admin:")}

    # then each is exercised below or explained as showing no patient data
    tested = set(READS) | {name.split(":post")[0] for name in WRITES}
    unclassified = sorted(names - admin_routes - tested - set(NO_PATIENT_DATA))
    assert unclassified == [], f"routes neither audited nor explained: {unclassified}"
    assert sorted((tested | set(NO_PATIENT_DATA)) - names) == [], "stale entries"
    assert {str(p.pattern) for p in websocket_urlpatterns} == set(SOCKETS)
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered - set(ADMIN_PATIENT_MODELS) - ADMIN_OTHER_MODELS - set(ADMIN_NOT_YET_EXERCISED) == set()


@pytest.fixture
def world(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from tests.factories import WardFactory

    ward = WardFactory(name="Ward A")
    patient = make_patient(ward, risk="medium")
    clinician = UserFactory(username="nurse", role=Role.CLINICIAN)
    ward.staff.add(clinician)
    administrator = UserFactory(username="admin", role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    alert = make_alert(patient, severity=Severity.MEDIUM)  # room to escalate
    device = patient.devices.get()
    now = timezone.now()
    objects = {
        "ward": ward, "patient": patient, "alert": alert, "device": device,
        "observation": ObservationFactory(patient=patient),
        "score": patient.current_score,
        "scale_change": SpO2ScaleChange.objects.create(patient=patient, scale=1, changed_by=clinician, changed_at=now),
        "alert_event": AlertEvent.objects.create(alert=alert, action="raised", at=now),
        "pairing_code": PairingCode.objects.create(patient=patient, code_hash="x" * 64, issued_by=clinician,
                                                   issued_at=now, expires_at=now + dt.timedelta(minutes=15)),
        "gap": ConnectivityGap.objects.create(device=device, patient=patient, cause="timeout", started_at=now),
    }  # fmt: skip
    return {"users": {"clinician": clinician, "administrator": administrator}, **objects}


def ids(world) -> dict[str, Any]:
    return {
        **{name: obj.pk for name, obj in world.items() if hasattr(obj, "pk")},
        "me": world["users"]["clinician"].pk,
        "now": timezone.now().isoformat(),
        "local_now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }


def fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = re.fullmatch(r"\{(\w+)\}", value)
        return values[whole.group(1)] if whole else value.format(**values)
    return value


def call(world, case: Case):
    values = ids(world)
    user = world["users"][case.who]
    path = case.path.format(**values)
    data = {key: fill(value, values) for key, value in case.data.items()}
    if not path.startswith("/api/"):  # pages: a signed-in session, form posts
        from django.test import Client

        client = Client()
        client.force_login(user)
        response = client.get(path) if case.method == "GET" else client.post(path, data)
    else:
        client = APIClient()
        client.force_authenticate(user)
        response = client.get(path) if case.method == "GET" else client.post(path, data, format="json")
    return user, path, response


@pytest.mark.parametrize("name", list(READS))
def test_a_read_of_a_patients_data_is_audited_with_the_route(world, name):
    # given a patient with readings, scores, a device and an alert; when the route is read
    case = READS[name]
    user, path, response = call(world, case)

    # then it answers, and one event names the reader, the patient and the route
    assert response.status_code == case.status, response.content[:300]
    event = AuditEvent.objects.get(action=case.action, patient=world["patient"])
    assert (event.actor, event.route) == (user, path.split("?")[0])


@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_of_a_patients_data_is_audited(world, name):
    # given the same patient; when the route changes their record
    case = WRITES[name]
    user, _, response = call(world, case)

    # then it succeeds and the change is on record against the patient
    assert response.status_code == case.status, response.content[:300]
    events = AuditEvent.objects.filter(action=case.action, actor=user)
    if case.about_the_patient:
        events = events.filter(patient=world["patient"])
    assert events.count() == 1


def test_a_read_refused_as_not_found_records_nothing(world):
    # given a patient on a ward the clinician is not on
    from tests.factories import PatientFactory, WardFactory

    stranger = PatientFactory(ward=WardFactory(name="Ward B"))
    client = APIClient()
    client.force_authenticate(world["users"]["clinician"])

    # when the clinician asks for their score, then it is a 404 and nothing is recorded
    assert client.get(f"/api/v1/patients/{stranger.pk}/score/").status_code == 404
    assert not AuditEvent.objects.filter(patient=stranger).exists()


def test_a_list_records_every_patient_it_showed_and_no_other(world):
    from tests.factories import PatientFactory, WardFactory

    # given a second patient on the clinician's ward and one on another ward
    second = PatientFactory(ward=world["ward"])
    stranger = PatientFactory(ward=WardFactory(name="Ward B"))
    client = APIClient()
    client.force_authenticate(world["users"]["clinician"])

    # when the clinician lists patients
    client.get("/api/v1/patients/")

    # then both listed patients have an event and the unseen one has none
    listed = set(AuditEvent.objects.filter(action="patient.listed").values_list("patient_id", flat=True))
    assert listed == {world["patient"].pk, second.pk} and stranger.pk not in listed


@pytest.mark.parametrize("label", list(ADMIN_PATIENT_MODELS))
@pytest.mark.parametrize("page", ["changelist", "change", "history"])
def test_an_admin_page_showing_a_patients_data_is_audited(world, client, label, page):
    # given an administrator in the Django admin
    administrator = world["users"]["administrator"]
    client.force_login(administrator)
    obj = world[ADMIN_PATIENT_MODELS[label]]
    app, model = label.split(".")
    path = f"/admin/{app}/{model}/" + ("" if page == "changelist" else f"{obj.pk}/{page}/")

    # when the page is opened, then it shows and the patient's record is audited
    response = client.get(path)
    assert response.status_code == 200
    verb = "listed" if page == "changelist" else "viewed"
    event = AuditEvent.objects.get(action=f"admin.{model}_{verb}", patient=world["patient"])
    assert (event.actor, event.route) == (administrator, path)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("route", list(SOCKETS))
async def test_opening_a_live_socket_is_audited_for_the_patients_it_shows(world, route):
    from channels.db import database_sync_to_async
    from channels.routing import URLRouter

    # given a clinician of the ward
    path_template, action = SOCKETS[route]
    clinician = world["users"]["clinician"]
    router = URLRouter(websocket_urlpatterns)

    async def app(scope, receive, send):
        return await router({**scope, "user": clinician}, receive, send)

    # when they open the socket
    communicator = WebsocketCommunicator(app, path_template.format(ward=world["ward"].pk, patient=world["patient"].pk))
    connected, _ = await communicator.connect(timeout=5)
    await communicator.disconnect()

    # then it is accepted and the patient it shows is on record
    assert connected
    count = await database_sync_to_async(
        AuditEvent.objects.filter(action=action, patient=world["patient"], actor=clinician).count
    )()
    assert count == 1
