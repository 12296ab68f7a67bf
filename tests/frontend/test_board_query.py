"""The board's search, filters and sort, read from its URL, on the page and on its live socket."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from alerts.models import AlertState
from frontend import live
from frontend.board_query import BoardQuery, query_from_string
from patients.models import Pathway
from tests.frontend.conftest import make_alert, make_patient, new_patient
from tests.frontend.test_consumers import open_socket

pytestmark = pytest.mark.django_db


def names(rows):
    return [row["name"].split()[-1] for row in rows]


def board(user, ward_id=None, query=""):
    return live.board_snapshot(user=user, ward_id=ward_id, query=query_from_string(query))["rows"]


@pytest.fixture
def cast(ward, clinician):
    """Five patients on one ward, each standing out in one way."""
    high = make_patient(ward, risk="high", given_name="Ada", family_name="Lovelace")
    make_alert(high)  # open and unowned
    silent = make_patient(ward, risk="low", online=False, given_name="Bo", family_name="Quiet")
    owned = make_patient(ward, risk="medium", given_name="Cy", family_name="Owned")
    make_alert(owned, severity=40, assigned_to=clinician, state=AlertState.ACKNOWLEDGED)
    review = make_patient(ward, risk="low-medium", given_name="Di", family_name="Review")
    make_alert(review, severity=40, state=AlertState.RESOLVED, review_by=timezone.now() + dt.timedelta(hours=2))
    new_patient(ward, given_name="Ed", family_name="Unscored")
    return {"high": high, "silent": silent, "owned": owned, "review": review}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Lovelace", "Owned", "Review", "Unscored", "Quiet"]),
        ("q=ada", ["Lovelace"]),
        ("q=LOVELACE+ada", ["Lovelace"]),
        ("q=ada+owned", []),
        ("band=high&band=medium", ["Lovelace", "Owned"]),
        ("band=none", ["Unscored"]),
        ("silent=1", ["Unscored", "Quiet"]),  # no device paired is "not heard from" too
        ("unowned=1", ["Lovelace"]),
        ("review=1", ["Review"]),
        ("pathway=frailty", []),
        ("pathway=respiratory&band=low", ["Quiet"]),
    ],
)
def test_each_filter_and_the_search_keep_only_the_patients_they_name(cast, clinician, ward, query, expected):
    # given the cast; when the board is read with the query; then exactly the expected rows, sickest first
    assert names(board(clinician, ward.pk, query)) == expected


def test_an_nhs_number_is_found_typed_with_or_without_its_spaces(cast, clinician, ward):
    number = cast["silent"].nhs_number
    spaced = f"{number[:3]} {number[3:6]} {number[6:]}"
    for typed in (number, spaced, number[:6]):
        assert "Quiet" in names(board(clinician, ward.pk, f"q={typed}")), typed
    assert names(board(clinician, ward.pk, f"q={number}")) == ["Quiet"]


def test_the_ward_filter_narrows_the_all_wards_board_to_the_wards_chosen(ward, other_ward, operator):
    make_patient(ward, family_name="Here")
    make_patient(other_ward, family_name="There")
    wards = [ward, other_ward]

    rows = live.board_snapshot(
        user=operator, ward_id=None, query=query_from_string(f"ward={other_ward.pk}", wards=wards)
    )["rows"]

    assert names(rows) == ["There"]


def test_a_ward_the_user_may_not_see_is_refused_in_the_filter_not_trusted(ward, other_ward, clinician):
    query = query_from_string(f"ward={other_ward.pk}", wards=[ward])
    assert query.wards == () and any("Wards" in problem for problem in query.problems)


def test_what_the_url_gets_wrong_is_ignored_and_said_so(clinician, ward):
    query = query_from_string("band=purple&sort=shoe-size&view=detailed&silent=1")
    assert query.bands == () and query.sort == "sickest"
    assert query.view == "detailed" and query.silent is True
    assert len(query.problems) == 2 and "NEWS2 band" in query.problems[0]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("sickest", ["Lovelace", "Owned", "Review", "Unscored", "Quiet"]),
        ("name", ["Lovelace", "Owned", "Quiet", "Review", "Unscored"]),  # family name, as a ward list is kept
        ("silent", ["Unscored", "Quiet", "Lovelace", "Owned", "Review"]),
        ("review", ["Review", "Lovelace", "Owned", "Unscored", "Quiet"]),
    ],
)
def test_each_sort_order(cast, clinician, ward, sort, expected):
    assert names(board(clinician, ward.pk, f"sort={sort}")) == expected


def test_two_patients_alike_in_everything_keep_their_order_between_renders(ward, clinician):
    # given two patients with the same name and the same score: only the id tells them apart
    first = make_patient(ward, risk="medium", given_name="Sam", family_name="Same")
    second = make_patient(ward, risk="medium", given_name="Sam", family_name="Same")

    for sort in ("sickest", "name", "ward"):
        ids = [row["id"] for row in board(clinician, ward.pk, f"sort={sort}")]
        assert ids == [first.pk, second.pk], sort


def test_the_query_string_leaves_out_defaults_and_round_trips():
    query = query_from_string("q=ada&band=high&band=low&silent=1&sort=sickest&view=compact")
    assert query.params() == "q=ada&band=high&band=low&silent=1"
    assert query_from_string(query.params()) == query
    assert query.unfiltered == ""
    assert BoardQuery(sort="name", view="detailed", q="x").unfiltered == "sort=name&view=detailed"


def test_the_page_renders_the_query_in_its_url_and_audits_only_the_rows_shown(client, cast, clinician, ward):
    client.force_login(clinician)

    html = client.get(f"/wards/{ward.pk}/?band=high&view=detailed").content.decode()

    assert "Lovelace" in html and "Quiet" not in html
    assert 'class="board detailed"' in html
    assert 'value="high" checked' in html and 'value="detailed" checked' in html
    assert "Showing <strong>1</strong> of 5 patients" in html
    viewed = AuditEvent.objects.filter(action="ward.board_viewed").values_list("patient_id", flat=True)
    assert set(viewed) == {cast["high"].pk}


def test_the_compact_view_is_the_default_and_keeps_colour_shape_and_word(client, cast, clinician, ward):
    client.force_login(clinician)

    html = client.get(f"/wards/{ward.pk}/").content.decode()

    assert 'class="board compact"' in html
    assert '◆</span> <strong class="total">7</strong> HIGH' in html
    assert "No data since" in html and "1 unowned" in html and "Review due" in html


def test_a_filter_that_hides_a_high_risk_patient_says_so_and_the_reminders_still_cover_them(cast, clinician, ward):
    snapshot = live.board_snapshot(user=clinician, ward_id=ward.pk, query=query_from_string("band=low"))

    assert names(snapshot["rows"]) == ["Quiet"]
    assert "1 HIGH-risk patient hidden by the filter" in snapshot["html"]
    assert cast["high"].pk in {alert["patient_id"] for alert in snapshot["alerts"]}


def test_a_bad_filter_value_on_the_page_is_named_not_guessed(client, ward, clinician):
    client.force_login(clinician)
    html = client.get(f"/wards/{ward.pk}/?band=purple").content.decode()
    assert "NEWS2 band: ignored" in html


def test_the_filter_form_offers_the_pathways_the_model_knows(client, ward, clinician):
    client.force_login(clinician)
    html = client.get(f"/wards/{ward.pk}/").content.decode()
    for value, _ in Pathway.choices:
        assert f'value="{value}"' in html


# --- The live socket keeps the board's query --------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_live_event_never_inserts_a_patient_outside_the_filter_and_does_insert_one_who_now_matches(
    ward, clinician
):
    from channels.db import database_sync_to_async

    from frontend.events import publish

    # given a board filtered to HIGH, over its socket, showing one patient
    sick = await database_sync_to_async(make_patient)(ward, risk="high", family_name="Sick")
    calm = await database_sync_to_async(make_patient)(ward, risk="low", family_name="Calm")
    steady = await database_sync_to_async(make_patient)(ward, risk="low", family_name="Steady")
    socket, connected, _ = await open_socket(clinician, f"/ws/ward/{ward.pk}/")
    assert connected
    await socket.send_json_to({"type": "sync", "query": "band=high"})
    first = await socket.receive_json_from(timeout=5)
    assert [row["id"] for row in first["rows"]] == [sick.pk]

    # when a live event arrives for a low-risk patient who stays low, and another who turns HIGH
    def change():
        from tests.frontend.conftest import make_score

        make_score(calm, total=2, risk="low")
        make_score(steady, total=8, risk="high")
        publish("score.updated", ward_id=ward.pk, patient_id=calm.pk)
        publish("score.updated", ward_id=ward.pk, patient_id=steady.pk)

    await database_sync_to_async(change)()
    await socket.receive_json_from(timeout=5)  # the events
    await socket.receive_json_from(timeout=5)
    await socket.send_json_to({"type": "sync"})  # as the page does after an event: the query is kept
    after = await socket.receive_json_from(timeout=5)

    # then the calm patient is still not on the filtered board, and the newly HIGH one is
    ids = [row["id"] for row in after["rows"]]
    assert calm.pk not in ids and steady.pk in ids and sick.pk in ids
    assert f'data-patient-id="{calm.pk}"' not in after["html"]
    await socket.disconnect()
