"""The not-spot area view by postcode district, operator and cell, and the kit team's tasks: API and pages."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Role
from devices.models import ConnectivityGap, KitTask
from devices.notspots import dropout_areas, postcode_district
from tests.factories import DeviceFactory, UserFactory, WardFactory
from tests.frontend.conftest import new_patient


@pytest.mark.parametrize(
    ("postcode", "district"),
    [
        ("LS1 4AP", "LS1"),  # A9 9AA
        ("M1 1AE", "M1"),  # A9 9AA, one letter
        ("B33 8TH", "B33"),  # A99 9AA
        ("CR2 6XH", "CR2"),
        ("DN55 1PT", "DN55"),  # AA99 9AA
        ("W1A 0AX", "W1A"),  # A9A 9AA
        ("EC1A 1BB", "EC1A"),  # AA9A 9AA
        ("sw1a1aa", "SW1A"),  # lower case, no space
        ("  ls1   4ap ", "LS1"),
        ("", "unknown"),
        (None, "unknown"),
        ("LS1 4A", "unknown"),  # inward code cut short
        ("1234 5AB", "unknown"),  # outward code must start with a letter
        ("LS1 A4P", "unknown"),  # inward code starts with a digit
        ("ABC1 4AP", "unknown"),  # three letters
    ],
)
def test_the_postcode_district_is_the_outward_code_and_anything_malformed_is_unknown(postcode, district):
    assert postcode_district(postcode) == district


def _dropouts(ward, postcode, count, *, operator="23415", days_ago=1):
    patient = new_patient(ward, postcode=postcode)
    device = DeviceFactory(patient=patient, network_type="cellular", network_operator=operator, network_cell="c1")
    start = timezone.now() - dt.timedelta(days=days_ago)
    for n in range(count):
        began = start + dt.timedelta(minutes=n)
        ConnectivityGap.objects.create(
            device=device, patient=patient, cause="timeout", started_at=began, ended_at=began + dt.timedelta(seconds=30)
        )
    return patient, device


@pytest.fixture
def wards(db):
    north, south = WardFactory(name="North Virtual Ward"), WardFactory(name="South Virtual Ward")
    nurse = UserFactory(username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN)
    north.staff.add(nurse)
    operator = UserFactory(username="cc", role=Role.OPERATOR)
    leeds = _dropouts(north, "LS1 4AP", 3)
    _dropouts(north, "LS1 9ZZ", 2)
    _dropouts(north, "", 1, operator="23420")
    london = _dropouts(south, "SW1A 1AA", 4)
    _dropouts(south, "SW1A 2AA", 1, days_ago=40)  # outside the 30 days
    return {"north": north, "south": south, "nurse": nurse, "operator": operator, "leeds": leeds, "london": london}


def test_dropouts_are_counted_by_postcode_district_busiest_first(wards):
    areas = dropout_areas(since=timezone.now() - dt.timedelta(days=30))
    assert areas["by_district"] == [
        {"district": "LS1", "dropouts": 5, "devices": 2, "patients": 2},
        {"district": "SW1A", "dropouts": 4, "devices": 1, "patients": 1},
        {"district": "unknown", "dropouts": 1, "devices": 1, "patients": 1},
    ]


def test_the_area_api_adds_districts_and_is_audited_for_the_patients_it_drew_on(wards, client):
    client.force_login(wards["operator"])
    body = client.get("/api/v1/connectivity/areas/?days=30").json()
    assert [row["district"] for row in body["by_district"]] == ["LS1", "SW1A", "unknown"]
    assert AuditEvent.objects.filter(action="connectivity.areas_viewed", actor=wards["operator"]).count() == 4


def test_the_area_page_counts_only_the_clinicians_own_wards_and_is_audited(wards, client):
    client.force_login(wards["nurse"])
    page = client.get("/connectivity/areas/")
    assert page.status_code == 200
    districts = [row["district"] for row in page.context["areas"]["by_district"]]
    assert districts == ["LS1", "unknown"]  # the south ward's London patients are not counted
    html = page.content.decode()
    assert 'data-district="LS1"' in html and "SW1A" not in html
    audited = set(AuditEvent.objects.filter(action="connectivity.areas_viewed").values_list("patient__ward", flat=True))
    assert audited == {wards["north"].pk}


def test_the_area_page_says_when_the_period_is_not_understood(wards, client):
    client.force_login(wards["operator"])
    page = client.get("/connectivity/areas/?days=9999")
    assert page.context["days"] == 30 and "from 1 to 365" in page.content.decode()


def test_a_person_without_a_staff_role_gets_neither_page(wards, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_user(username="visitor", password="x"))
    assert client.get("/connectivity/areas/").status_code == 403
    assert client.get("/connectivity/kit-tasks/").status_code == 403


def _task(patient, device):
    return KitTask.objects.create(device=device, patient=patient, reason="went silent 3 times in the last 24 h",
                                  remedy="A cellular hub", created_at=timezone.now())  # fmt: skip


def test_the_kit_task_page_lists_the_wards_tasks_and_marks_one_done_audited(wards, client):
    mine, theirs = _task(*wards["leeds"]), _task(*wards["london"])
    client.force_login(wards["nurse"])
    page = client.get("/connectivity/kit-tasks/")
    assert [t.pk for t in page.context["tasks"]] == [mine.pk]
    assert AuditEvent.objects.get(action="kit_task.listed").patient_id == mine.patient_id
    # the nurse cannot close the other ward's task
    assert client.post(f"/connectivity/kit-tasks/{theirs.pk}/done/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == KitTask.State.OPEN and theirs.done_at is None
    done = client.post(f"/connectivity/kit-tasks/{mine.pk}/done/", {"note": "cellular hub fitted"})
    assert done.status_code == 302
    mine.refresh_from_db()
    assert mine.state == KitTask.State.DONE and mine.done_at is not None
    event = AuditEvent.objects.get(action="kit_task.done")
    assert (event.actor, event.patient_id, event.detail["note"]) == (
        wards["nurse"],
        mine.patient_id,
        "cellular hub fitted",
    )


def test_the_kit_task_api_lists_closes_and_refuses_a_second_close(wards, client):
    mine, _ = _task(*wards["leeds"]), _task(*wards["london"])
    client.force_login(wards["nurse"])
    listed = client.get("/api/v1/connectivity/kit-tasks/").json()["results"]
    assert [t["id"] for t in listed] == [mine.pk] and listed[0]["remedy"] == "A cellular hub"
    done = client.post(f"/api/v1/connectivity/kit-tasks/{mine.pk}/done/", {"note": "hub fitted"})
    assert done.status_code == 200 and done.json()["state"] == "done"
    # done: no longer open, so no longer there
    assert client.post(f"/api/v1/connectivity/kit-tasks/{mine.pk}/done/").status_code == 404
    assert AuditEvent.objects.filter(action="kit_task.listed", patient=mine.patient).count() == 1
