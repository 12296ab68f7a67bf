"""The observation list by cursor (history.md#hot-queries): every reading once, newest first, scoped."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import AuditEvent
from tests.factories import ObservationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/observations/"
BASE = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def no_rescoring(monkeypatch):
    monkeypatch.setattr("patients.services.request_rescore", lambda ids: None)


def test_a_cursor_walk_returns_every_visible_reading_once_newest_first(api_as, clinician_a, patient_a, patient_b):
    # Given readings over two months, two of them at the same moment, and one of another ward
    mine = [ObservationFactory(patient=patient_a, measured_at=BASE - dt.timedelta(days=n)) for n in range(45)]
    mine.append(ObservationFactory(patient=patient_a, measured_at=BASE))
    ObservationFactory(patient=patient_b, measured_at=BASE)
    client = api_as(clinician_a)

    # When the clinician walks the list by cursor, 10 a page
    seen, url, pages = [], f"{URL}?cursor=&page_size=10", 0
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen.extend(row["id"] for row in body["results"])
        url, pages = body["next"], pages + 1

    # Then each of their readings came exactly once, newest first, and only theirs
    assert sorted(seen) == sorted(o.pk for o in mine) and len(seen) == len(set(seen))
    times = {o.pk: (o.measured_at, o.pk) for o in mine}
    assert [times[i] for i in seen] == sorted(times.values(), reverse=True)
    assert pages == 5
    assert AuditEvent.objects.filter(actor=clinician_a, patient=patient_a).exists()


def test_without_a_cursor_existing_clients_still_get_limit_and_offset_with_a_count(api_as, operator, patient_a):
    for n in range(3):
        ObservationFactory(patient=patient_a, measured_at=BASE - dt.timedelta(hours=n))

    body = api_as(operator).get(f"{URL}?limit=2&offset=1").json()

    assert body["count"] == 3 and len(body["results"]) == 2


def test_a_bad_cursor_is_a_clear_404_not_a_server_error(api_as, operator):
    response = api_as(operator).get(f"{URL}?cursor=not-a-cursor")
    assert response.status_code == 404
    assert "cursor" in response.json()["detail"].lower()
