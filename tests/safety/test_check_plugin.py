"""The safety-case check in a pytest run of its own: a small suite and a small hazard log."""

import json

import pytest

from tests.safety.logs import hazard, hazard_log, write_log

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestAssertRewriteWarning")

SUITE = {
    "tests/test_a.py": """
import pytest

def test_one():
    assert True

@pytest.mark.parametrize("n", [1, 2])
def test_cases(n):
    assert n

def test_skipped_here():
    pytest.skip("needs a service that is not here")
""",
}


@pytest.fixture
def suite(pytester, monkeypatch):
    """A project with a testpaths folder, the plugin loaded from its conftest, and CI unset."""
    monkeypatch.delenv("CI", raising=False)
    pytester.makeini("[pytest]\ntestpaths = tests\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest('pytest_plugins = ["virtualward.safety.pytest_plugin"]\n')
    for path, source in SUITE.items():
        target = pytester.path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source, encoding="utf-8")
    return pytester


def output(result):
    return result.stdout.str() + result.stderr.str()


def run(pytester, log, *args):
    path = write_log(pytester.path / "hazard-log.yaml", log)
    return pytester.runpytest_inprocess(f"--hazard-log={path}", "-p", "no:django", "-p", "no:cacheprovider", *args)


def test_a_whole_run_whose_named_tests_all_exist_passes_and_prints_the_residual_risk_summary(suite):
    # given a log whose control names two existing tests, one of them parametrized
    log = hazard_log(hazard(tests=["tests/test_a.py::test_one", "tests/test_a.py::test_cases"]))
    # when the whole suite runs
    result = run(suite, log)
    # then it passes and the summary shows the hazard, its risks and its proof
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*clinical safety case (hazard-log.yaml)*", "H-01 * 4 * 2  closed * 2/2 passed *"])
    result.stdout.fnmatch_lines(["1 hazards: 1 closed; residual risk 2: 1", "control tests: 2 named, 2 passed"])


def test_a_renamed_test_fails_the_run_at_collection_naming_the_control_and_no_test_runs(suite):
    # given a log naming a test that was renamed
    log = hazard_log(hazard(tests=["tests/test_a.py::test_one", "tests/test_a.py::test_one_renamed"]))
    # when the whole suite runs
    result = run(suite, log)
    # then it fails before running anything, saying which control lost its proof
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "tests/test_a.py::test_one_renamed (named by H-01/C1) was not collected: removed or renamed?" in output(
        result
    )
    assert result.parseoutcomes().get("passed") is None


def test_a_removed_test_file_fails_the_run(suite):
    log = hazard_log(hazard(tests=["tests/test_gone.py::test_one"]))
    result = run(suite, log)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "tests/test_gone.py::test_one (named by H-01/C1) was not collected" in output(result)


def test_a_control_without_tests_fails_the_run_with_the_logs_error(suite):
    log = hazard_log(hazard(controls=[{"description": "Trust me.", "tests": []}]))
    result = run(suite, log)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "H-01 controls[0] tests: a control must name at least one test that proves it" in output(result)


def test_a_named_test_skipped_in_ci_fails_the_run(suite, monkeypatch):
    # given CI and a control proven by a test that skips
    monkeypatch.setenv("CI", "true")
    log = hazard_log(hazard(tests=["tests/test_a.py::test_one", "tests/test_a.py::test_skipped_here"]))
    # when the whole suite runs
    result = run(suite, log)
    # then the run fails though no test failed, naming the skipped test
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert result.parseoutcomes()["skipped"] == 1
    result.stdout.fnmatch_lines(["SAFETY CASE CHECK FAILED: tests/test_a.py::test_skipped_here was skipped in CI*"])


def test_a_named_test_skipped_outside_ci_only_warns(suite):
    log = hazard_log(hazard(tests=["tests/test_a.py::test_skipped_here"]))
    result = run(suite, log)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["1 control test(s) skipped here; under CI=true a skipped control test fails the run."])


def test_an_unnamed_skipped_test_does_not_fail_ci(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = run(suite, hazard_log(hazard(tests=["tests/test_a.py::test_one"])))
    assert result.ret == 0


@pytest.mark.parametrize(
    "narrowing",
    [
        ["-k", "test_one"],
        ["tests/test_a.py::test_one"],
        ["tests/test_a.py"],
        ["-m", "not slow"],
        ["--deselect=tests/test_a.py::test_one"],
        ["--ignore=tests/test_b.py"],
    ],
)
def test_a_narrowed_run_does_not_check_or_write_results(suite, narrowing):
    # given a log naming a test that does not exist
    log = hazard_log(hazard(tests=["tests/test_a.py::test_missing"]))
    # when only part of the suite runs
    result = run(suite, log, *narrowing)
    # then there is nothing to check against: no failure, no summary, no results file
    assert result.ret == 0
    assert "clinical safety case" not in result.stdout.str()
    assert not (suite.path / "test-artifacts").exists()


def test_naming_the_test_folder_is_still_a_whole_run(suite):
    result = run(suite, hazard_log(hazard(tests=["tests/test_a.py::test_missing"])), "tests")
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_the_run_writes_each_tests_outcome_for_the_release_report(suite):
    # given a whole run
    log = hazard_log(hazard(tests=["tests/test_a.py::test_one"]))
    result = run(suite, log)
    assert result.ret == 0
    # then the results file holds every test's outcome and how the run went
    data = json.loads((suite.path / "test-artifacts" / "safety" / "test-run.json").read_text())
    assert data["format"] == "virtualward-safety-test-run/1"
    assert data["outcomes"] == {
        "tests/test_a.py::test_cases[1]": "passed",
        "tests/test_a.py::test_cases[2]": "passed",
        "tests/test_a.py::test_one": "passed",
        "tests/test_a.py::test_skipped_here": "skipped",
    }
    assert data["full_run"] is True
    assert data["ci"] is False
    assert data["exit_status"] == 0
    assert data["totals"] == {"passed": 3, "failed": 0, "skipped": 1}


def test_a_failing_named_test_shows_in_the_summary(suite):
    suite.path.joinpath("tests/test_b.py").write_text("def test_broken():\n    assert False\n", encoding="utf-8")
    result = run(suite, hazard_log(hazard(tests=["tests/test_b.py::test_broken"])))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["H-01 * 0/1 passed *", "control tests: 1 named, 1 failed"])
