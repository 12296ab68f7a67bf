import pytest

from tests.safety.logs import hazard, hazard_log, write_log
from virtualward.safety.hazard_log import HazardLogError, load_hazard_log, parse_hazard_log

# The hazards the project must always carry (issue 17), by a phrase of each title.
REQUIRED_HAZARDS = [
    "a vital sign is missing or stale",
    "wrong SpO2 scale",
    "shown with a stale value",
    "nobody owns or acknowledges",
    "silent device is mistaken for a stable patient",
    "lost or doubled",
    "Late data is scored as current",
    "attributed to the wrong patient",
    "sees the wrong ward",
    "Notifications that do not arrive",
    "clock errors",
    "agreed parameter or persistence rule hides a HIGH score",
    "Overload of ingest or workers",
]


def problems_of(data):
    with pytest.raises(HazardLogError) as raised:
        parse_hazard_log(data, path="log.yaml")
    return raised.value.problems


def test_the_projects_hazard_log_is_valid_and_carries_every_required_hazard():
    # given the committed hazard log
    log = load_hazard_log()
    # then each required hazard is there exactly once, with at least one control and test
    titles = [h.title for h in log.hazards]
    for phrase in REQUIRED_HAZARDS:
        assert sum(phrase in title for title in titles) == 1, phrase
    assert all(control.tests for h in log.hazards for control in h.controls)


def test_every_hazard_not_closed_says_what_remains():
    log = load_hazard_log()
    for h in log.open_hazards():
        assert h.actions or h.deployment, h.id


def test_a_valid_log_is_read_with_risks_from_the_matrix():
    log = parse_hazard_log(hazard_log(hazard(initial={"severity": "Major", "likelihood": "High"})))
    assert log.hazards[0].initial.risk == 4
    assert log.hazards[0].residual.risk == 2
    assert log.test_ids() == {"tests/test_a.py::test_one": ["H-01/C1"]}


def test_a_control_without_tests_is_an_error_saying_a_test_must_prove_it():
    data = hazard_log(hazard(controls=[{"description": "Trust me.", "tests": []}]))
    assert problems_of(data) == [
        "H-01 controls[0] tests: a control must name at least one test that proves it (pytest node ids)"
    ]


def test_a_control_whose_tests_key_is_misspelt_is_an_error_not_a_silent_gap():
    data = hazard_log(hazard(controls=[{"description": "Proven.", "test": ["tests/test_a.py::test_one"]}]))
    problems = problems_of(data)
    assert "H-01 controls[0]: unknown key 'test' (expected description, tests)" in problems
    assert "H-01 controls[0]: tests is missing" in problems


@pytest.mark.parametrize("bad", ["test_one", "tests/test_a.py", "tests/test_a.py::", "other/test_a.py::test_one", 3])
def test_a_test_that_is_not_a_node_id_is_named_in_the_error(bad):
    data = hazard_log(hazard(tests=[bad]))
    assert problems_of(data) == [
        f"H-01 controls[0] tests[0]: {bad!r} is not a pytest node id (tests/<path>.py::test_name)"
    ]


def test_a_parametrized_case_or_a_test_in_a_class_is_a_node_id():
    log = parse_hazard_log(
        hazard_log(hazard(tests=["tests/a/test_b.py::TestC::test_d", "tests/test_e.py::test_f[1-x]"]))
    )
    assert len(log.test_ids()) == 2


def test_unknown_categories_are_errors_naming_the_choices():
    data = hazard_log(hazard(initial={"severity": "Severe", "likelihood": "Often"}))
    assert problems_of(data) == [
        "H-01 initial severity: must be one of Minor, Significant, Considerable, Major, Catastrophic, not 'Severe'",
        "H-01 initial likelihood: must be one of Very low, Low, Medium, High, Very high, not 'Often'",
    ]


def test_a_residual_risk_above_the_initial_risk_is_an_error():
    data = hazard_log(hazard(initial={"severity": "Minor", "likelihood": "Low"}))
    assert problems_of(data) == [
        "H-01 residual: its risk (2) is higher than the initial risk (1); controls cannot raise a risk"
    ]


def test_a_hazard_at_residual_risk_4_cannot_be_closed():
    data = hazard_log(hazard(residual={"severity": "Major", "likelihood": "High"}))
    assert problems_of(data) == [
        "H-01 status: a hazard whose residual risk is 4 cannot be closed "
        "(risk 4 needs further control, 5 is unacceptable)"
    ]


def test_an_open_hazard_must_list_what_it_still_needs_and_a_transferred_one_what_is_handed_over():
    data = hazard_log(hazard("H-01", status="open"), hazard("H-02", status="transferred"))
    assert problems_of(data) == [
        "H-01 actions: an open hazard must list its actions (the further controls it still needs)",
        "H-02 deployment: a transferred hazard must list what the deploying organisation takes on",
    ]


def test_every_problem_of_the_file_is_reported_at_once():
    # given a log with a duplicate id, a bad status, an empty title and a bad id
    data = hazard_log(hazard("H-01"), hazard("H-01", status="done", title=" "), hazard("X1"))
    problems = problems_of(data)
    # then each one is named
    assert "H-01 title: must be non-empty text" in problems
    assert "H-01 status: must be one of open, closed, transferred, not 'done'" in problems
    assert "hazards[2] id: must look like H-01, not 'X1'" in problems
    assert len(problems) == 3


def test_a_duplicate_hazard_id_is_an_error():
    assert problems_of(hazard_log(hazard("H-01"), hazard("H-01"))) == ["H-01: the id is used by more than one hazard"]


def test_the_top_of_the_file_is_checked():
    assert problems_of([]) == ["the file must be a mapping with schema, product and hazards"]
    assert problems_of({"schema": 2, "product": "x", "hazards": []}) == [
        "schema: must be 1, not 2",
        "hazards: must be a non-empty list",
    ]


def test_a_file_that_is_not_yaml_or_cannot_be_read_is_a_clear_error(tmp_path):
    broken = tmp_path / "log.yaml"
    broken.write_text("hazards: [unclosed", encoding="utf-8")
    with pytest.raises(HazardLogError, match="is not valid YAML"):
        load_hazard_log(broken)
    with pytest.raises(HazardLogError, match="cannot be read"):
        load_hazard_log(tmp_path / "missing.yaml")


def test_the_error_message_names_the_file_and_lists_each_problem(tmp_path):
    path = write_log(tmp_path / "log.yaml", hazard_log(hazard(controls=[{"description": "x", "tests": []}])))
    with pytest.raises(HazardLogError) as raised:
        load_hazard_log(path)
    assert str(raised.value).startswith(f"{path}: 1 problem(s) in the hazard log:\n  - H-01 controls[0] tests:")
