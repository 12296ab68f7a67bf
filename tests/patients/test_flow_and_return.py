"""Capacity and flow arithmetic, and the daily return: every field, the identifier, idempotency."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, Role
from patients.daily_return import (
    COLUMNS,
    daily_return_content,
    daily_return_download,
    daily_return_make,
    daily_returns_catch_up,
    pseudonym,
)
from patients.flow import (
    OCCUPANCY_TARGET,
    Day,
    FlowPeriodError,
    flow_csv,
    los_bucket,
    occupancy_percent,
    ward_flow,
)
from patients.models import DailyReturn, Stay, Ward
from patients.tasks import make_daily_returns
from tests.factories import PatientFactory, UserFactory, WardFactory

pytestmark = pytest.mark.django_db
LONDON = ZoneInfo("Europe/London")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON)


# --- occupancy arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("census", "beds", "percent", "over"),
    [(0, 10, 0.0, False), (8, 10, 80.0, False), (9, 10, 90.0, True), (81, 100, 81.0, True), (5, None, None, False),
     (5, 0, None, False), (1, 3, 33.3, False), (13, 12, 108.3, True)],
)  # fmt: skip
def test_occupancy_is_census_over_beds_and_only_above_80_is_over_target(census, beds, percent, over):
    assert occupancy_percent(census, beds) == percent
    day = Day(dt.date(2026, 11, 2), census, 0, 0, beds)
    assert OCCUPANCY_TARGET == 80
    assert (day.occupancy, day.over_target) == (percent, over)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(0, "0–1"), (1, "0–1"), (2, "2–3"), (3, "2–3"), (4, "4–7"), (7, "4–7"), (8, "8–14"), (14, "8–14"),
     (15, "15–21"), (21, "15–21"), (22, "22+"), (400, "22+")],
)  # fmt: skip
def test_length_of_stay_falls_in_its_bucket_on_both_sides_of_each_edge(days, bucket):
    assert los_bucket(days) == bucket


def test_a_negative_length_of_stay_is_an_error():
    with pytest.raises(ValueError):
        los_bucket(-1)


def _stay(ward: Ward, admitted: dt.datetime, discharged: dt.datetime | None = None, **extra) -> Stay:
    patient = PatientFactory(ward=ward, admitted_at=admitted, discharged_at=discharged)
    stay = patient.stays.get()
    for name, value in extra.items():
        setattr(stay, name, value)
    stay.save()
    return stay


def test_the_end_of_day_census_counts_stays_open_at_local_midnight():
    # given a ward of 4 beds over three days in local time
    ward = WardFactory(beds=4)
    d1, d2, d3 = dt.date(2026, 10, 24), dt.date(2026, 10, 25), dt.date(2026, 10, 26)  # 25th: clocks go back
    _stay(ward, at(d1, 9))  # admitted day 1, still in
    _stay(ward, at(d1, 10), at(d2, 23, 59))  # leaves before midnight ending day 2
    _stay(ward, at(d2, 0, 0), at(d3, 0, 0))  # leaves exactly at the midnight ending day 2: not in the census
    _stay(ward, at(d3, 12), direction="step_down", referral_source="hospital_ward")
    flow = ward_flow(wards=Ward.objects.filter(pk=ward.pk), since=d1, until=d3, now=at(d3, 23))
    assert [(d.census, d.admissions, d.discharges) for d in flow["days"]] == [(2, 2, 0), (2, 1, 1), (2, 1, 1)]
    assert [d.occupancy for d in flow["days"]] == [50.0, 50.0, 50.0]
    assert flow["direction"]["step_up"] == 3 and flow["direction"]["step_down"] == 1
    assert flow["discharges"] == 2 and flow["length_of_stay"]["median"] == 1


def test_flow_counts_readmissions_outcomes_and_is_scoped_to_the_wards_given():
    ward, other = WardFactory(beds=10), WardFactory(beds=5)
    today = timezone.localdate()
    first = _stay(ward, at(today - dt.timedelta(days=20), 9), at(today - dt.timedelta(days=10), 9), outcome="recovered")
    _stay(ward, at(today - dt.timedelta(days=5), 9), at(today - dt.timedelta(days=1), 9), outcome="died")
    _stay(ward, at(today - dt.timedelta(days=2), 9), readmission_of=first)
    _stay(other, at(today - dt.timedelta(days=2), 9))
    flow = ward_flow(wards=Ward.objects.filter(pk=ward.pk), since=today - dt.timedelta(days=29), until=today)
    assert flow["admissions"] == 3 and flow["readmissions"] == 1
    assert flow["outcomes"]["recovered"] == 1 and flow["outcomes"]["died"] == 1
    assert flow["now"] == {"census": 1, "occupancy": 10.0, "beds": 10}
    buckets = {b["label"]: b["stays"] for b in flow["length_of_stay"]["buckets"]}
    assert buckets["8–14"] == 1 and buckets["4–7"] == 1


@pytest.mark.parametrize(
    ("since", "until"), [(dt.date(2026, 1, 2), dt.date(2026, 1, 1)), (dt.date(2024, 12, 31), dt.date(2026, 1, 1))]
)
def test_a_backwards_or_over_long_period_is_refused(since, until):
    with pytest.raises(FlowPeriodError):
        ward_flow(wards=Ward.objects.all(), since=since, until=until)


def test_a_period_of_one_day_or_of_366_days_is_accepted():
    assert len(ward_flow(wards=Ward.objects.all(), since=dt.date(2026, 1, 1), until=dt.date(2026, 1, 1))["days"]) == 1
    assert len(ward_flow(wards=Ward.objects.all(), since=dt.date(2025, 1, 1), until=dt.date(2026, 1, 1))["days"]) == 366


def test_the_flow_csv_has_a_row_per_day_with_occupancy_and_the_target_flag():
    ward = WardFactory(beds=1)
    day = timezone.localdate() - dt.timedelta(days=1)
    _stay(ward, at(day, 9))
    rows = list(csv.DictReader(io.StringIO(flow_csv(ward_flow(wards=Ward.objects.all(), since=day, until=day)))))
    assert rows == [
        {"date": day.isoformat(), "beds": "1", "census_end_of_day": "1", "occupancy_percent": "100.0",
         "over_80_percent": "Y", "admissions": "1", "discharges": "0"}
    ]  # fmt: skip


def test_the_flow_api_and_page_show_only_the_wards_a_clinician_works_on(client):
    ward, other = WardFactory(beds=2), WardFactory(beds=2)
    _stay(other, timezone.now() - dt.timedelta(hours=3))
    nurse = UserFactory(role=Role.CLINICIAN)
    ward.staff.add(nurse)
    client.force_login(nurse)
    body = client.get("/api/v1/flow/").json()
    assert body["now"]["census"] == 0 and body["beds"] == 2
    assert client.get(f"/api/v1/flow/?ward={other.pk}").status_code == 404
    assert client.get("/api/v1/flow/?period=2y").status_code == 400
    csv_download = client.get("/api/v1/flow/?format=csv&period=7d")
    today = timezone.localdate()
    assert csv_download["Content-Type"].startswith("text/csv") and csv_download.content.decode().count("\n") == 8
    week = f"flow-{today - dt.timedelta(days=6)}-{today}.csv"
    assert csv_download["Content-Disposition"] == f'attachment; filename="{week}"'
    page = client.get("/flow/")
    assert page.status_code == 200 and "Capacity and flow" in page.content.decode()
    assert client.get("/flow.csv?period=7d").content.decode().count("\n") == 8


# --- the daily return -------------------------------------------------------------------------


@pytest.fixture
def yesterday():
    return timezone.localdate() - dt.timedelta(days=1)


def _rows(content: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content)))


def test_the_return_has_a_row_per_stay_on_the_ward_that_day_with_every_documented_field(settings, yesterday):
    settings.VW_RETURN_IDENTIFIER = "nhs_number"
    ward = WardFactory()
    stayed = _stay(ward, at(yesterday - dt.timedelta(days=3), 9))
    stayed.patient.sex, stayed.patient.postcode, stayed.patient.gp_practice_code = "female", "LS1 4AP", "B86001"
    stayed.patient.save()
    left = _stay(ward, at(yesterday - dt.timedelta(days=6), 9), at(yesterday, 15), outcome="hospital")
    _stay(ward, at(yesterday - dt.timedelta(days=9), 9), at(yesterday - dt.timedelta(days=1), 23))  # gone before
    _stay(ward, at(timezone.localdate(), 0, 30))  # came after
    content, patients = daily_return_content(yesterday, "nhs_number")
    rows = _rows(content)
    assert list(rows[0]) == COLUMNS
    # rows by ward, then admission: the earlier admission first
    assert [row["stay_id"] for row in rows] == [str(left.pk), str(stayed.pk)]
    by_stay = {row["stay_id"]: row for row in rows}
    row = by_stay[str(stayed.pk)]
    assert row["patient_identifier"] == stayed.patient.nhs_number and row["identifier_type"] == "nhs_number"
    assert (row["sex_code"], row["postcode_district"], row["gp_practice_code"]) == ("2", "LS1", "B86001")
    assert (row["on_ward_at_end_of_day"], row["length_of_stay_days"], row["discharge_date"]) == ("Y", "3", "")
    gone = by_stay[str(left.pk)]
    assert (gone["discharged_on_day"], gone["on_ward_at_end_of_day"], gone["discharge_outcome"]) == (
        "Y",
        "N",
        "hospital",
    )
    assert gone["discharge_date"] == yesterday.isoformat() and gone["length_of_stay_days"] == "6"
    assert set(patients) == {stayed.patient_id, left.patient_id}


def test_by_default_patients_are_named_by_a_stable_keyed_pseudonym_never_the_nhs_number(yesterday):
    stay = _stay(WardFactory(), at(yesterday, 8))
    stored = daily_return_make(day=yesterday)
    row = _rows(stored.content)[0]
    assert row["identifier_type"] == "pseudonym" and row["patient_identifier"] == pseudonym(stay.patient.nhs_number)
    assert stay.patient.nhs_number not in stored.content
    assert len(row["patient_identifier"]) == 20


def test_the_pseudonym_changes_with_its_key(settings):
    before = pseudonym("9990000018")
    settings.VW_RETURN_PSEUDONYM_KEY = "another key"
    assert pseudonym("9990000018") != before


def test_a_days_return_is_made_once_and_rerunning_returns_the_same_file(yesterday):
    ward = WardFactory()
    _stay(ward, at(yesterday, 8))
    first = daily_return_make(day=yesterday)
    # when the data change afterwards and the day is run again
    _stay(ward, at(yesterday, 9))
    again = daily_return_make(day=yesterday)
    assert again.pk == first.pk and again.content == first.content and again.sha256 == first.sha256
    assert DailyReturn.objects.filter(day=yesterday).count() == 1


def test_the_same_data_always_give_the_same_bytes(yesterday):
    _stay(WardFactory(), at(yesterday, 8))
    assert daily_return_content(yesterday, "pseudonym") == daily_return_content(yesterday, "pseudonym")


def test_a_day_not_yet_over_has_no_return():
    with pytest.raises(ValueError):
        daily_return_make(day=timezone.localdate())


def test_the_beat_task_fills_in_the_missing_days_of_the_last_week_and_only_those(yesterday):
    daily_return_make(day=yesterday - dt.timedelta(days=2))
    made = make_daily_returns()
    assert len(made) == 6 and (yesterday - dt.timedelta(days=2)).isoformat() not in made
    assert make_daily_returns() == []
    assert daily_returns_catch_up() == []


def test_an_unknown_identifier_setting_is_refused(settings, yesterday):
    settings.VW_RETURN_IDENTIFIER = "name"
    with pytest.raises(ValueError):
        daily_return_make(day=yesterday)


def test_a_download_is_audited_against_every_patient_in_the_file_and_only_administrators_may(client, yesterday):
    a, b = _stay(WardFactory(), at(yesterday, 8)), _stay(WardFactory(), at(yesterday, 9))
    daily_return_make(day=yesterday)
    nurse, admin = UserFactory(role=Role.CLINICIAN), UserFactory(role=Role.ADMINISTRATOR)
    client.force_login(nurse)
    assert client.get(f"/returns/{yesterday}.csv").status_code == 403
    assert client.get(f"/api/v1/daily-returns/{yesterday}.csv").status_code == 403
    client.force_login(admin)
    response = client.get(f"/returns/{yesterday}.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    audited = set(AuditEvent.objects.filter(action="return.downloaded").values_list("patient_id", flat=True))
    assert audited == {a.patient_id, b.patient_id}
    assert client.get("/returns/2001-01-01.csv").status_code == 404
    # the API serves the same file, under the same name, and is audited the same way
    downloads = AuditEvent.objects.filter(action="return.downloaded")
    before = downloads.count()
    api = client.get(f"/api/v1/daily-returns/{yesterday}.csv")
    assert api.status_code == 200 and api.content == response.content
    name = f'attachment; filename="virtual-ward-return-{yesterday}.csv"'
    assert api["Content-Disposition"] == response["Content-Disposition"] == name
    assert downloads.count() == before + 2
    assert client.get("/api/v1/daily-returns/2001-01-01.csv").status_code == 404
    assert daily_return_download(day=dt.date(2001, 1, 1), user=admin) is None
    assert str(yesterday.day) in client.get("/returns/").content.decode()
