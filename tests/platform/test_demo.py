"""The demo data: two wards, twenty synthetic patients with devices, a history on every screen."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import Role
from alerts.models import Alert, AlertState
from devices.credentials import secret_verify
from devices.models import ConnectivityGap, Device
from devices.pairing import PairingError, device_credentials_collect, pairing_code_issue, pairing_complete
from fixtures import demo_plan
from fixtures.demo import FACTORY_KEYS_FILE, demo_logins_text, load_demo
from fixtures.demo_plan import DEMO_PASSWORD, DEMO_USERS, demo_patients
from patients.models import Observation, Pathway, Patient, Ward
from patients.nhs_number import is_valid_nhs_number
from scoring.models import EarlyWarningScore

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
# The twenty monitored patients with devices and history (the stay story adds others).
CAST = [spec.nhs_number for spec in demo_patients()]


@pytest.fixture
def demo(tmp_path):
    return load_demo(now=NOW, history_days=1, credentials_path=tmp_path / "sim-credentials.json")


@pytest.mark.django_db
def test_the_demo_has_two_wards_one_per_pathway_with_about_twenty_patients(demo):
    # given the demo loaded into an empty database
    # then there is one respiratory ward and one frailty ward, ten monitored patients on each, and
    # on the frailty ward one more just admitted (fixtures/demo_stays.py)
    wards = {ward.pathway: ward for ward in Ward.objects.all()}
    assert set(wards) == {Pathway.RESPIRATORY, Pathway.FRAILTY}
    on_ward = [
        wards[p].patients.filter(discharged_at__isnull=True).count() for p in (Pathway.RESPIRATORY, Pathway.FRAILTY)
    ]
    assert on_ward == [10, 11]
    assert demo.wards == 2
    assert demo.patients == 21


@pytest.mark.django_db
def test_every_demo_patient_has_a_paired_device_and_a_valid_test_range_nhs_number(demo):
    # given the demo
    patients = list(Patient.objects.filter(nhs_number__in=CAST).prefetch_related("devices"))
    # then every NHS number passes Modulus 11 and is from the never-issued 999 range
    assert all(is_valid_nhs_number(p.nhs_number) and p.nhs_number.startswith("999") for p in patients)
    # and every patient has paired devices, each holding a broker-format secret hash
    assert all(p.devices.count() >= 3 for p in patients)
    patients_devices = Device.objects.filter(patient__isnull=False, revoked_at__isnull=True)
    assert all(d.is_paired and d.secret_hash.startswith("$7$") for d in patients_devices)


@pytest.mark.django_db
def test_the_simulator_credentials_file_holds_each_device_secret_matching_its_stored_hash(demo):
    # given the credentials file the loader wrote for the simulator
    secrets = json.loads(demo.credentials_path.read_text())
    # then there is one secret per patient's device, and each one matches the hash the broker checks
    devices = Device.objects.filter(patient__isnull=False, revoked_at__isnull=True)
    assert set(secrets) == {d.device_id for d in devices}
    assert all(secret_verify(secrets[d.device_id], d.secret_hash) for d in devices)
    assert demo.credentials_path.stat().st_mode & 0o077 == 0


@pytest.mark.django_db
def test_demo_history_gives_every_screen_readings_scores_and_alerts(demo):
    # given a day of history
    # then every patient has readings from before "now", and a current NEWS2 from the scoring service
    cast = Patient.objects.filter(nhs_number__in=CAST)
    assert all(p.observations.filter(measured_at__lt=NOW).count() > 50 for p in cast)
    assert all(p.current_score_id is not None for p in cast)
    assert EarlyWarningScore.objects.filter(risk__in=["medium", "high"]).exists()
    # and there are alerts both closed by a clinician and still waiting for one
    states = set(Alert.objects.values_list("state", flat=True))
    assert {AlertState.RESOLVED, AlertState.OPEN} <= states
    resolved = Alert.objects.filter(state=AlertState.RESOLVED, resolved_by__isnull=False).first()
    assert resolved is not None and resolved.events.filter(action="resolved").exists()


@pytest.mark.django_db
def test_the_not_spot_patient_has_late_store_and_forward_readings_and_a_closed_gap(tmp_path):
    # given three days of history (the not-spot windows recur every 12 hours)
    load_demo(now=NOW, history_days=3, credentials_path=tmp_path / "c.json")
    # then readings uploaded after the not-spot are flagged late and the gap is recorded, not hidden
    late = Observation.objects.filter(is_late=True)
    assert late.exists()
    assert all(o.received_at - o.measured_at > dt.timedelta(minutes=2) for o in late[:50])
    assert ConnectivityGap.objects.filter(ended_at__isnull=False).exists()
    assert Alert.objects.filter(kind="device_offline", state=AlertState.RESOLVED).exists()


@pytest.mark.django_db
def test_loading_the_demo_twice_duplicates_nothing(demo, tmp_path):
    # given the demo already loaded
    counts = (Ward.objects.count(), Patient.objects.count(), Device.objects.count(), Observation.objects.count())
    # when it is loaded again (later)
    again = load_demo(now=NOW + dt.timedelta(hours=1), history_days=1, credentials_path=tmp_path / "again.json")
    # then nothing new was created
    after = (Ward.objects.count(), Patient.objects.count(), Device.objects.count(), Observation.objects.count())
    assert after == counts
    assert again.new_patients == 0


@pytest.mark.django_db
def test_each_demo_login_works_with_the_printed_password_and_has_its_role(demo):
    # given the demo users
    def login(username: str):
        return authenticate(RequestFactory().post("/accounts/login/"), username=username, password=DEMO_PASSWORD)

    for spec in DEMO_USERS:
        # when each logs in with the printed demo password
        user = login(spec.username)
        # then it works and the role matches the banner
        assert user is not None
        assert user.staff_profile.role == spec.role
    assert list(login("demo-frailty").wards.values_list("pathway", flat=True)) == [Pathway.FRAILTY]
    assert login("demo-admin").staff_profile.role == Role.ADMINISTRATOR


@pytest.mark.django_db
def test_the_copd_patients_are_scored_on_scale_2_with_the_decision_recorded(demo):
    # given the plan's Scale 2 patients
    scale_2 = [p.nhs_number for p in demo_patients() if p.spo2_scale == 2]
    # then they are on Scale 2, set by a clinician, and their scores used Scale 2
    for patient in Patient.objects.filter(nhs_number__in=scale_2):
        assert patient.spo2_scale == 2 and patient.spo2_scale_set_by is not None
        assert patient.scale_changes.count() == 1
        assert patient.current_score.spo2_scale == 2


def test_the_demo_refuses_a_time_without_a_zone(tmp_path):
    # given a naive "now"
    # then the loader refuses it before touching the database
    with pytest.raises(ValueError, match="aware"):
        load_demo(now=dt.datetime(2026, 11, 23, 10, 0), credentials_path=tmp_path / "c.json")


def test_the_demo_cast_is_twenty_synthetic_patients_with_unique_test_numbers():
    # given the plan
    cast = demo_patients()
    # then twenty distinct patients, distinct NHS numbers, every scenario present
    assert len(cast) == 20
    assert len({p.nhs_number for p in cast}) == 20
    assert {p.scenario for p in cast} == {
        "stable", "copd_deterioration", "sepsis", "not_spot", "device_dies", "low_battery", "malformed",
    }  # fmt: skip
    assert timezone.is_aware(NOW)


@pytest.mark.django_db
def test_the_demo_registers_unpaired_stock_devices_that_a_phone_can_pair(demo):
    # given the demo's stock devices, listed in the start-up banner
    stock = Device.objects.filter(serial__in=[d.serial for d in demo_plan.STOCK_DEVICES])
    # then each is registered but held by nobody and has no credentials yet
    assert stock.count() == len(demo_plan.STOCK_DEVICES) >= 1
    assert all(d.patient_id is None and not d.is_paired and not d.secret_hash for d in stock)
    # and the banner names them, so a new user knows what to type on /pair/
    banner = demo_logins_text()
    assert "/pair/" in banner and all(d.serial in banner for d in demo_plan.STOCK_DEVICES)


@pytest.mark.django_db
def test_a_stock_device_of_the_demo_pairs_through_the_phone_flow(demo):
    # given a pairing code issued by the ward's clinician for a demo patient
    patient = Patient.objects.get(nhs_number=demo_patients()[9].nhs_number)
    clinician = get_user_model().objects.get(username="demo-respiratory")
    issued = pairing_code_issue(patient=patient, user=clinician)
    # when the phone completes pairing with the first stock serial
    pairing_complete(code=issued.code, serial=demo_plan.STOCK_DEVICES[0].serial, issue_credentials=False, via="page")
    # then that device now belongs to the patient
    device = Device.objects.get(serial=demo_plan.STOCK_DEVICES[0].serial)
    assert device.patient_id == patient.pk and device.paired_at is not None
    # and it collects its credentials with the factory key the demo wrote for it, never without
    keys = json.loads(demo.credentials_path.with_name(FACTORY_KEYS_FILE).read_text())
    assert demo.credentials_path.with_name(FACTORY_KEYS_FILE).stat().st_mode & 0o077 == 0
    with pytest.raises(PairingError):
        device_credentials_collect(serial=device.serial, claim_key="")
    collected = device_credentials_collect(serial=device.serial, claim_key=keys[device.serial])
    assert secret_verify(collected.secret, Device.objects.get(pk=device.pk).secret_hash)


@pytest.mark.django_db
def test_the_demo_shows_patients_at_every_point_of_a_stay(demo):
    from patients.models import Stay

    stays = Stay.objects.all()
    on_ward = stays.filter(discharged_at__isnull=True)
    # just admitted (within the hour), due for discharge today, and mid-stay
    assert on_ward.filter(admitted_at__gte=NOW - dt.timedelta(hours=1)).exists()
    assert on_ward.filter(expected_discharge_on=timezone.localdate(NOW)).count() == 2
    assert on_ward.filter(expected_discharge_on__gt=timezone.localdate(NOW)).count() >= 10
    # a readmission within 30 days, on the ward now
    assert on_ward.filter(readmission_of__isnull=False).exists()
    # discharged patients with past stays, every outcome's stays, and kit still to collect
    assert Patient.objects.filter(discharged_at__isnull=False, stays__isnull=False).distinct().count() >= 5
    assert any(p.stays.count() > 1 for p in Patient.objects.filter(discharged_at__isnull=False))
    assert {"recovered", "hospital", "died", "self_discharged"} <= set(stays.values_list("outcome", flat=True))
    assert {"step_up", "step_down"} <= set(stays.values_list("direction", flat=True))
    from devices.models import KitTask

    assert KitTask.objects.filter(state="open", patient__discharged_at__isnull=False).count() == 2
    # every patient's record mirrors their newest stay
    for patient in Patient.objects.all():
        newest = patient.stays.order_by("-admitted_at").first()
        assert (patient.admitted_at, patient.discharged_at) == (newest.admitted_at, newest.discharged_at)
    assert all(ward.beds for ward in Ward.objects.all())
