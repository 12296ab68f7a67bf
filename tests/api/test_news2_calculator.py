"""POST /api/v1/news2/: the stateless calculator, table-driven against the RCP NEWS2 chart."""

from __future__ import annotations

import pytest

from scoring.news2 import PARAMETERS

URL = "/api/v1/news2/"

ALL_NORMAL = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "heart_rate": 70,
    "consciousness": "A",
    "temperature": 37.0,
}

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_as, clinician_a):
    return api_as(clinician_a)


@pytest.mark.parametrize(
    ("changes", "total", "risk", "band"),
    [
        pytest.param({}, 0, "low", "zero", id="all-normal-scores-0-low"),
        pytest.param({"heart_rate": 95}, 1, "low", "low", id="a-1-is-low"),
        pytest.param(
            {"respiratory_rate": 22, "spo2": 95, "heart_rate": 95, "temperature": 38.5},
            5,
            "medium",
            "medium",
            id="a-5-is-medium",
        ),
        pytest.param({"respiratory_rate": 25, "spo2": 93, "heart_rate": 115}, 7, "high", "high", id="a-7-is-high"),
        pytest.param({"consciousness": "V"}, 3, "low-medium", "low-medium", id="a-single-3-is-low-medium"),
        pytest.param({"consciousness": "C"}, 3, "low-medium", "low-medium", id="new-confusion-scores-3"),
        pytest.param({"spo2": 97, "on_oxygen": True, "spo2_scale": 2}, 5, "medium", "medium", id="scale-2-on-oxygen"),
        pytest.param({"spo2": 97, "on_oxygen": True}, 2, "low", "low", id="scale-1-on-oxygen-only-oxygen-scores"),
        pytest.param({"spo2": 89, "spo2_scale": 2}, 0, "low", "zero", id="scale-2-on-air-in-target"),
        pytest.param({"spo2": 89}, 3, "low-medium", "low-medium", id="the-same-spo2-on-scale-1-scores-3"),
    ],
)
def test_the_calculator_scores_a_complete_set_of_vitals_by_the_chart(client, changes, total, risk, band):
    # given a full set of vitals with some parameters abnormal
    body = {**ALL_NORMAL, **changes}
    # when it is posted to the calculator
    response = client.post(URL, body, format="json")
    # then the total, risk and band follow the RCP chart and the result is complete
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["total"], result["risk"], result["band"]) == (total, risk, band)
    assert result["complete"] is True
    assert result["missing"] == []
    assert result["warning"] is None


def test_the_result_carries_each_sub_score_the_response_and_the_monitoring_frequency(client):
    # given vitals where respiration scores 2 and SpO2 scores 1
    body = {**ALL_NORMAL, "respiratory_rate": 22, "spo2": 95}
    # when it is scored
    result = client.post(URL, body, format="json").json()
    # then every parameter has its value and sub-score, and the clinical response is given
    assert set(result["sub_scores"]) == set(PARAMETERS)
    assert result["sub_scores"]["respiratory_rate"] == {"value": 22.0, "score": 2, "note": None}
    assert result["sub_scores"]["spo2"]["score"] == 1
    assert result["sub_scores"]["consciousness"]["value"] == "A"
    assert result["spo2_scale"] == 1
    assert "registered nurse" in result["clinical_response"].lower()
    assert result["monitoring_frequency"] == "Minimum 4–6-hourly"
    assert result["monitoring_interval_s"] == 4 * 3600


def test_scale_2_above_target_on_oxygen_scores_the_over_oxygenation(client):
    # given a Scale 2 patient on oxygen at 97 %
    body = {**ALL_NORMAL, "spo2": 97, "on_oxygen": True, "spo2_scale": 2}
    # when scored
    result = client.post(URL, body, format="json").json()
    # then SpO2 scores 3 (over-oxygenation) and oxygen scores 2
    assert result["sub_scores"]["spo2"]["score"] == 3
    assert result["sub_scores"]["on_oxygen"]["score"] == 2
    assert result["spo2_scale"] == 2
    assert result["single_parameter_3"] is True


def test_omitted_parameters_make_the_result_incomplete_and_are_listed_never_assumed_normal(client):
    # given only a pulse of 120
    # when scored
    response = client.post(URL, {"heart_rate": 120}, format="json")
    # then the result is incomplete, lists every other parameter, and scores none of them
    result = response.json()
    assert response.status_code == 200
    assert result["complete"] is False
    assert result["missing"] == [p for p in PARAMETERS if p != "heart_rate"]
    assert result["total"] == 2
    assert all(result["sub_scores"][p]["score"] is None for p in result["missing"])
    assert "lower bounds" in result["warning"]


def test_an_empty_request_is_an_incomplete_zero_not_a_normal_score(client):
    # given no vitals at all
    # when scored
    result = client.post(URL, {}, format="json").json()
    # then nothing is scored and everything is missing
    assert result["complete"] is False
    assert result["missing"] == list(PARAMETERS)


def test_a_null_parameter_counts_as_missing(client):
    # given the temperature explicitly null
    result = client.post(URL, {**ALL_NORMAL, "temperature": None}, format="json").json()
    # then temperature is missing, not 0 points of normal
    assert result["missing"] == ["temperature"]
    assert result["complete"] is False


def test_consciousness_may_be_given_in_lower_case(client):
    result = client.post(URL, {**ALL_NORMAL, "consciousness": "v"}, format="json").json()
    assert result["sub_scores"]["consciousness"] == {"value": "V", "score": 3, "note": None}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("respiratory_rate", 0),
        ("respiratory_rate", 81),
        ("respiratory_rate", "16"),
        ("respiratory_rate", True),
        ("spo2", 49),
        ("spo2", 100.5),
        ("spo2", [97]),
        ("on_oxygen", "yes"),
        ("on_oxygen", 1),
        ("systolic_bp", 39),
        ("systolic_bp", 301),
        ("heart_rate", 19),
        ("heart_rate", 301),
        ("heart_rate", {"bpm": 70}),
        ("consciousness", "X"),
        ("consciousness", 1),
        ("temperature", 24.9),
        ("temperature", 45.1),
        ("temperature", "37.0"),
        ("spo2_scale", 3),
        ("spo2_scale", "2"),
        ("spo2_scale", True),
        ("spo2_scale", None),
        ("heart_rte", 70),
    ],
)
def test_each_invalid_field_gets_a_400_naming_that_field(client, field, value):
    # given an otherwise valid request with one bad field
    body = {**ALL_NORMAL, field: value}
    # when posted
    response = client.post(URL, body, format="json")
    # then the error is keyed by exactly that field, with a reason
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert errors[field][0]


def test_a_body_that_is_not_an_object_is_refused(client):
    response = client.post(URL, [ALL_NORMAL], format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_out_of_range_errors_say_the_plausible_range(client):
    response = client.post(URL, {**ALL_NORMAL, "spo2": 150}, format="json")
    assert "50–100 %" in response.json()["spo2"][0]


def test_the_calculator_requires_authentication(anonymous):
    # given no credentials
    # when posting vitals
    response = anonymous.post(URL, ALL_NORMAL, format="json")
    # then the request is refused
    assert response.status_code == 401
