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
from alerts.models import AlertEvent, ConnectivityIncident, IncidentMember, Severity
from devices.models import ConnectivityGap, KitTask, PairingCode
from frontend.routing import websocket_urlpatterns
from patients.models import Contact, DailyReturn, PatientPhone, SpO2ScaleChange
from rota.models import Notification
from tests.factories import ObservationFactory, PatientFactory, UserFactory
from tests.frontend.conftest import make_alert, make_patient
from ukcore.discharge.services import discharge_summary_create


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
    "patient-stays": Case("GET", "/api/v1/patients/{patient}/stays/", "patient.stays_viewed"),
    "patient-phones": Case("GET", "/api/v1/patients/{patient}/phones/", "patient.phones_viewed"),
    "patient-contacts": Case("GET", "/api/v1/patients/{patient}/contacts/", "patient.contacts_viewed"),
    "stay-list": Case("GET", "/api/v1/stays/", "stay.listed"),
    "frontend:return-download": Case("GET", "/returns/2026-01-01.csv", "return.downloaded", who="administrator"),
    "daily-return-download": Case(
        "GET", "/api/v1/daily-returns/2026-01-01.csv", "return.downloaded", who="administrator"
    ),
    "stay-detail": Case("GET", "/api/v1/stays/{stay}/", "stay.viewed"),
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
    "careplan:plan": Case("GET", "/patients/{patient}/plan/", "careplan.plan_viewed"),
    "patient-agreed-parameters": Case("GET", "/api/v1/patients/{patient}/agreed-parameters/", "careplan.agreed_viewed"),
    "patient-checkins": Case("GET", "/api/v1/patients/{patient}/checkins/", "checkin.listed"),
    "checkins:phone": Case("GET", "/patients/{patient}/checkins/phone/", "checkin.phone_form_viewed"),
    "fhir:patient-read": Case("GET", "/fhir/R4/Patient/{patient}", "fhir.patient_read"),
    "fhir:patient-search": Case("GET", "/fhir/R4/Patient?_id={patient}", "fhir.patient_searched"),
    "fhir:observation-read": Case("GET", "/fhir/R4/Observation/{observation}", "fhir.observation_read"),
    "fhir:observation-search": Case("GET", "/fhir/R4/Observation?patient={patient}", "fhir.observation_searched"),
    "fhir:encounter-read": Case("GET", "/fhir/R4/Encounter/stay-{stay}", "fhir.encounter_read"),
    "fhir:encounter-search": Case("GET", "/fhir/R4/Encounter?patient={patient}", "fhir.encounter_searched"),
    "fhir:flag-read": Case("GET", "/fhir/R4/Flag/virtual-ward-{stay}", "fhir.flag_read"),
    "fhir:flag-search": Case("GET", "/fhir/R4/Flag?patient={patient}", "fhir.flag_searched"),
    "fhir:device-read": Case("GET", "/fhir/R4/Device/{device}", "fhir.device_read"),
    "fhir:device-search": Case("GET", "/fhir/R4/Device?patient={patient}", "fhir.device_searched"),
    "fhir:composition-read": Case("GET", "/fhir/R4/Composition/{document}", "fhir.composition_read"),
    "ukcore:summary-html": Case(
        "GET", "/patients/{patient}/discharge-summaries/{summary}.html", "discharge_summary.viewed"
    ),
    "ukcore:summary-pdf": Case(
        "GET", "/patients/{patient}/discharge-summaries/{summary}.pdf", "discharge_summary.downloaded"
    ),
    "ukcore:summary-document": Case(
        "GET", "/patients/{patient}/discharge-summaries/{summary}.json", "discharge_summary.downloaded"
    ),
    "rota:notifications": Case("GET", "/notifications/", "notification.listed"),
    "incident-list": Case("GET", "/api/v1/incidents/", "incident.listed"),
    "incident-detail": Case("GET", "/api/v1/incidents/{incident}/", "incident.viewed"),
    "connectivity-areas": Case("GET", "/api/v1/connectivity/areas/", "connectivity.areas_viewed", who="administrator"),
    "frontend:connectivity-areas": Case("GET", "/connectivity/areas/", "connectivity.areas_viewed"),
    "frontend:kit-tasks": Case("GET", "/connectivity/kit-tasks/", "kit_task.listed"),
    "kit-task-list": Case("GET", "/api/v1/connectivity/kit-tasks/", "kit_task.listed"),
    "kit-task-detail": Case("GET", "/api/v1/connectivity/kit-tasks/{kit_task}/", "kit_task.viewed"),
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
              "date_of_birth": "1950-01-01", "ward": "{ward}", "referral_source": "gp", "reason": "COPD"},
    ),
    "patient-discharge": Case(
        "POST", "/api/v1/patients/{patient}/discharge/", "patient.discharged", data={"outcome": "recovered"}
    ),
    "patient-readmit": Case(
        "POST", "/api/v1/patients/{discharged}/readmit/", "patient.readmitted", status=201, about_the_patient=False,
        data={"ward": "{ward}", "referral_source": "hospital_ward", "reason": "early supported discharge"},
    ),
    "frontend:admit:post": Case(
        "POST", "/patients/admit/", "patient.admitted", status=302, about_the_patient=False,
        data={"ward": "{ward}", "nhs_number": "943 476 5919", "given_name": "Ada", "family_name": "Lovelace",
              "date_of_birth": "1950-01-01", "sex": "female", "referral_source": "nhs_111", "reason": "COPD"},
    ),
    "frontend:patient-discharge": Case(
        "POST", "/patients/{patient}/discharge/", "patient.discharged", status=302,
        data={"outcome": "recovered", "confirm_end_monitoring": "on"},
    ),
    "frontend:patient-readmit": Case(
        "POST", "/patients/{discharged}/readmit/", "patient.readmitted", status=302, about_the_patient=False,
        data={"ward": "{ward}", "referral_source": "gp", "reason": "chest infection"},
    ),
    "frontend:patient-record": Case(
        "POST", "/patients/{patient}/record/", "patient.record_changed", status=302,
        data={"sex": "female", "nhs_number_status": "01", "preferred_language": "pl", "interpreter_needed": "on"},
    ),
    "frontend:patient-phone-add": Case(
        "POST", "/patients/{patient}/phones/", "patient.phone_added", status=302,
        data={"number": "0113 496 0000", "kind": "home"},
    ),
    "frontend:patient-phone-remove": Case(
        "POST", "/patients/{patient}/phones/{phone}/remove/", "patient.phone_removed", status=302
    ),
    "frontend:patient-contact-add": Case(
        "POST", "/patients/{patient}/contacts/", "patient.contact_added", status=302,
        data={"name": "Sam Lee", "relationship": "child", "phone": "07700 900456", "is_carer": "on",
              "may_see": "plan"},
    ),
    "frontend:patient-contact-remove": Case(
        "POST", "/patients/{patient}/contacts/{contact}/remove/", "patient.contact_removed", status=302
    ),
    "frontend:kit-collected": Case(
        "POST", "/patients/{patient}/kit/{kit_task}/collected/", "kit.collected", status=302
    ),
    "frontend:patient-expected-discharge": Case(
        "POST", "/patients/{patient}/expected-discharge/", "stay.expected_discharge_set", status=302,
        data={"expected_discharge_on": "2099-01-01"},
    ),
    "stay-expected-discharge": Case(
        "POST", "/api/v1/stays/{stay}/expected-discharge/", "stay.expected_discharge_set",
        data={"expected_discharge_on": "2099-01-01"},
    ),
    "patient-record": Case(
        "PATCH", "/api/v1/patients/{patient}/record/", "patient.record_changed",
        data={"gp_practice_code": "a81001", "gp_practice_name": "Riverside Surgery"},
    ),
    "patient-phones:post": Case(
        "POST", "/api/v1/patients/{patient}/phones/", "patient.phone_added", status=201,
        data={"number": "07700 900123", "kind": "mobile"},
    ),
    "patient-contacts:post": Case(
        "POST", "/api/v1/patients/{patient}/contacts/", "patient.contact_added", status=201,
        data={"name": "Sam Carer", "relationship": "child", "phone": "07700 900456", "is_next_of_kin": True,
              "may_see": "plan"},
    ),
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
    "alert-snooze": Case(
        "POST", "/api/v1/alerts/{technical_alert}/snooze/", "alert.snoozed",
        data={"minutes": 30, "reason": "device charging"},
    ),
    "incident-acknowledge": Case("POST", "/api/v1/incidents/{incident}/acknowledge/", "incident.acknowledged"),
    "incident-assign": Case(
        "POST", "/api/v1/incidents/{incident}/assign/", "incident.assigned", data={"assignee": "{me}"}
    ),
    "frontend:incident-action": Case(
        "POST", "/triage/incidents/{incident}/acknowledge/", "incident.acknowledged", status=302
    ),
    "kit-task-done": Case("POST", "/api/v1/connectivity/kit-tasks/{kit_task}/done/", "kit_task.done",
                          data={"note": "hub fitted"}),
    "frontend:kit-task-done": Case(
        "POST", "/connectivity/kit-tasks/{kit_task}/done/", "kit_task.done", status=302, data={"note": "hub fitted"}
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
    "careplan:limit-set": Case(
        "POST", "/patients/{patient}/agreed/", "careplan.limit_set", status=302,
        data={"parameter": "heart_rate", "low": "50", "high": "130", "reason": "known AF",
              "review_by": (timezone.localdate() + dt.timedelta(days=7)).isoformat()},
    ),
    "careplan:plan:post": Case(
        "POST", "/patients/{patient}/plan/", "careplan.plan_saved", status=302,
        data={"if_worse": "rest", "call_ward_when": "worse", "call_111_when": "closed", "call_999_when": "chest pain",
              "ward_phone": "0300 123 4567", "ward_hours": "8am to 8pm"},
    ),
    "checkins:link-issue": Case("POST", "/patients/{patient}/checkin-link/", "checkin.link_issued", status=200),
    "patient-agreed-parameters:post": Case(
        "POST", "/api/v1/patients/{patient}/agreed-parameters/", "careplan.limit_set", status=201,
        data={"parameter": "heart_rate", "low": 50, "high": 130, "reason": "known AF",
              "review_by": (timezone.localdate() + dt.timedelta(days=7)).isoformat()},
    ),
    "patient-checkins:post": Case(
        "POST", "/api/v1/patients/{patient}/checkins/", "checkin.recorded_by_phone", status=201,
        data={"told_by": "carer", "answers": {"breathing": "same", "cough_sputum": "no_change",
                                               "finish_sentence": "yes", "chest_pain": "no"}},
    ),
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
    "flow": "counts of stays per day and ward (patients.flow), no patient named",
    "frontend:flow": "as flow", "frontend:flow-csv": "as flow",
    "frontend:returns": "the list of daily returns made (day, rows, hash); downloading one is audited",
    "daily-return-list": "as frontend:returns",
    "frontend:triage-summary": "counts and times over many alerts, no patient named",
    "frontend:home": "a redirect to the user's board",
    "pairing": "a patient's own device types its code (the code's use is audited as device.paired)",
    "pairing-collect": "a device collects its own credentials (audited as device.credentials_collected)",
    "frontend:pair": "the patient's own pairing page", "frontend:pair-device": "the patient's own pairing page",
    "frontend:pair-wait": "the patient's own pairing page", "frontend:pair-status": "the patient's own pairing page",
    "frontend:pair-kit-add": "the patient's own pairing page (the pairing is audited as device.paired)",
    "login": "sign-in", "logout": "sign-out", "password_change": "the user's own password",
    "password_change_done": "the user's own password", "password_reset": "the user's own password",
    "password_reset_done": "the user's own password", "password_reset_confirm": "the user's own password",
    "password_reset_complete": "the user's own password",
    "rota:rota": "the staff duty rota", "rota:shift-add": "the staff duty rota", "shift-list": "the staff duty rota",
    "rota:push-subscribe": "the signed-in person's own push subscription",
    "rota:handover-start": "a hand-over's people and note; the alerts it moves are audited as alert.handed_over",
    "rota:handover-accept": "as rota:handover-start (rota.handover audits each alert moved)",
    "rota:acknowledge": "an acknowledge link's page; the press is audited as alert.acknowledged (alerts.services)",
    "fhir:metadata": "the FHIR server's CapabilityStatement",
    "fhir:unknown": "an OperationOutcome for a path the FHIR server does not serve",
    "fhir:organization-read": "a GP practice's ODS code and name",
    "fhir:practitioner-read": "a staff member's name (who entered a reading)",
    "checkins:start": "the patient's own check-in page: audited as checkin.page_viewed with no actor "
                      "(tests/checkins/test_pages.py)",
    "checkins:question": "as checkins:start", "checkins:done": "as checkins:start",
    "checkins:plan": "as checkins:start",
    "careplan:limit-end": "ends an agreement, audited as careplan.limit_ended by careplan.services (tests/careplan)",
    "checkins:link-revoke": "stops a link, audited as checkin.link_revoked by checkins.services (tests/checkins)",
    "patient-agreed-parameter-end": "as careplan:limit-end (tests/careplan/test_api.py)",
    "patient-escalation-plan": "read audited as careplan.plan_viewed, written as careplan.plan_saved "
                               "(tests/careplan/test_api.py)",
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
    "ukcore.dischargesummary": "summary",
    "rota.notification": "notification",
}
# Admin models of the merged features that are not yet exercised above: each with its reason.
ADMIN_NOT_YET_EXERCISED = {
    "devices.devicecertificate": "a device's certificate identity (device id, serial, dates), no patient data",
}
# Admin models without a patient's data, and the audit trail (reading it is audited on export).
ADMIN_OTHER_MODELS = {
    "patients.ward", "auth.group", "auth.user", "accounts.staffprofile", "accounts.auditevent",
    "devices.receivedmessage", "devices.ingestrejection", "authtoken.tokenproxy", "axes.accessattempt",
    "axes.accessfailurelog", "axes.accesslog",
    "rota.shift", "rota.ladderrung", "rota.escalationstep", "rota.staffcontact", "rota.pushsubscription",
    "ukcore.observationpush",  # delivery state and patient ids; its Bundle is not shown (ukcore.admin)
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
        "summary": discharge_summary_create(patient_id=patient.pk, user_id=clinician.pk),
        "stay": patient.stays.get(),
        "phone": PatientPhone.objects.create(patient=patient, number="+447700900111", preferred=True),
        "contact": Contact.objects.create(
            patient=patient, name="Jo Lee", relationship="spouse_partner", phone="+447700900222", is_next_of_kin=True
        ),
        "daily_return": DailyReturn.objects.create(
            day=dt.date(2026, 1, 1), identifier="pseudonym", content="x\n", sha256="0" * 64, rows=0,
            patient_ids=[patient.pk], generated_at=now,
        ),
        "discharged": PatientFactory(
            ward=ward, admitted_at=now - dt.timedelta(days=9), discharged_at=now - dt.timedelta(days=3)
        ),
        "technical_alert": make_alert(patient, severity=Severity.MEDIUM, kind="low_battery", category="technical",
                                      device=device, title="Battery 9 %"),
        "notification": Notification.objects.create(
            alert=alert, recipient=clinician, channel="email", reason="on duty as ward clinician, at once",
            subject="Virtual ward: MEDIUM clinical alert", body="…", address="nurse@nhs.test", state="sent",
            created_at=now, sent_at=now),
        "kit_task": KitTask.objects.create(device=device, patient=patient, reason="went silent 3 times in 24 h",
                                           remedy="A cellular hub", created_at=now),
    }  # fmt: skip
    objects["incident"] = incident = ConnectivityIncident.objects.create(
        group_kind="operator",
        group_value="23415",
        label="mobile network 23415",
        started_at=now,
        opened_at=now,
        updated_at=now,
    )
    IncidentMember.objects.create(incident=incident, device=device, patient=patient, silent_since=now, joined_at=now,
                                  risk="medium")  # fmt: skip
    return {"users": {"clinician": clinician, "administrator": administrator}, **objects}


def ids(world) -> dict[str, Any]:
    return {
        **{name: obj.pk for name, obj in world.items() if hasattr(obj, "pk")},
        "me": world["users"]["clinician"].pk,
        "document": world["summary"].document_id,
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
        send = {"GET": client.get, "POST": client.post, "PATCH": client.patch}[case.method]
        response = client.get(path) if case.method == "GET" else send(path, data, format="json")
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
    assert listed == {world["patient"].pk, world["discharged"].pk, second.pk} and stranger.pk not in listed


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
