import datetime as dt
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from pypdf import PdfReader

from tests.safety.logs import hazard, hazard_log, write_log
from virtualward.safety.evidence import TestRun, read_junit, read_results, write_results
from virtualward.safety.hazard_log import ROOT, parse_hazard_log
from virtualward.safety.pdf import markdown_to_pdf
from virtualward.safety.report import Release, evaluate, project_version, release_report_markdown

NOW = dt.datetime(2026, 12, 4, 10, 0, tzinfo=dt.UTC)
RELEASE = Release("Virtual Ward", "1.2.3", "abc123", False, NOW)
LOG = parse_hazard_log(
    hazard_log(
        hazard("H-01", tests=["tests/test_a.py::test_one", "tests/test_a.py::test_cases"]),
        hazard("H-02", status="open", actions=["Notify outside the browser."], tests=["tests/test_a.py::test_one"]),
    )
)


def ci_run(**outcomes):
    default = {"tests/test_a.py::test_one": "passed", "tests/test_a.py::test_cases[1]": "passed"}
    return TestRun(
        source="test-run.json", outcomes={**default, **outcomes}, commit="abc123", dirty=False,
        finished_at="2026-12-04T09:50:00+00:00", ci=True, full_run=True, exit_status=0, totals={"passed": 2},
    )  # fmt: skip


def test_a_whole_ci_run_of_the_release_commit_where_every_named_test_passed_is_complete_evidence():
    evidence = evaluate(LOG, ci_run(), RELEASE)
    assert evidence.complete
    assert evidence.outcomes == {"tests/test_a.py::test_one": "passed", "tests/test_a.py::test_cases": "passed"}
    text = release_report_markdown(LOG, RELEASE, evidence)
    assert "DRAFT" not in text
    assert "**The evidence is complete: every test named by a control passed in this run.**" in text


@pytest.mark.parametrize(
    ("run", "problem"),
    [
        (None, "no test run is attached to this report"),
        (ci_run(**{"tests/test_a.py::test_cases[2]": "skipped"}), "tests/test_a.py::test_cases: skipped"),
        (ci_run(**{"tests/test_a.py::test_one": "failed"}), "tests/test_a.py::test_one: failed"),
        (TestRun("r", {"tests/test_a.py::test_one": "passed"}), "tests/test_a.py::test_cases: not run"),
        (TestRun("r", ci_run().outcomes, commit="def456"), "the run tested commit def456, not this release's abc123"),
        (TestRun("r", ci_run().outcomes, full_run=False), "the run was not a run of the whole suite"),
        (TestRun("r", ci_run().outcomes, ci=False), "the run was not a CI run on the real services (CI=true)"),
        (TestRun("r", ci_run().outcomes, dirty=True), "the run was made on a work tree with uncommitted changes"),
    ],
)
def test_any_gap_in_the_evidence_makes_the_report_a_draft_that_says_why(run, problem):
    evidence = evaluate(LOG, run, RELEASE)
    assert problem in evidence.problems
    text = release_report_markdown(LOG, RELEASE, evidence)
    assert text.count("DRAFT — the evidence is incomplete") == 1
    assert f"  - {problem}" in text


def test_the_report_names_the_release_the_run_the_residual_risks_and_the_open_hazards():
    text = release_report_markdown(LOG, RELEASE, evaluate(LOG, ci_run(), RELEASE))
    for expected in (
        "# Clinical safety case report — Virtual Ward, version 1.2.3",
        "| commit | abc123 |",
        "| generated | 2026-12-04T10:00:00+00:00 |",
        "| test run | test-run.json (finished 2026-12-04T09:50:00+00:00) |",
        "| H-01 | Hazard H-01 | 4 | 2 (acceptable, ALARP) | closed |",
        "- **H-02 Hazard H-02** — open, residual risk 2 (acceptable, ALARP).",
        "  - still needed: Notify outside the browser.",
        "   - `tests/test_a.py::test_cases` — passed",
        "| Clinical Safety Officer, name and professional registration | |",
    ):
        assert expected in text


def test_the_version_comes_from_pyproject():
    import tomllib

    assert project_version() == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_the_results_file_is_read_back_as_written(tmp_path):
    write_results(tmp_path / "run.json", ci_run())
    run = read_results(tmp_path / "run.json")
    assert run.outcomes == ci_run().outcomes
    assert (run.commit, run.ci, run.full_run, run.exit_status) == ("abc123", True, True, 0)


def test_a_file_that_is_not_a_results_file_is_refused(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"outcomes": {}}))
    with pytest.raises(ValueError, match="not a test-run file written by the safety-case check"):
        read_results(tmp_path / "run.json")


def test_a_junit_report_is_read_into_node_ids_with_each_outcome(tmp_path):
    # given a JUnit report with a module-level test, a parametrized case, a class's test, a failure and a skip
    (tmp_path / "tests" / "scoring").mkdir(parents=True)
    (tmp_path / "tests" / "scoring" / "test_news2.py").write_text("")
    report = tmp_path / "junit.xml"
    report.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest" timestamp="2026-12-04T09:00:00">'
        '<testcase classname="tests.scoring.test_news2" name="test_a"/>'
        '<testcase classname="tests.scoring.test_news2" name="test_b[1]"><skipped message="no"/></testcase>'
        '<testcase classname="tests.scoring.test_news2.TestBands" name="test_c"><failure message="x"/></testcase>'
        "</testsuite></testsuites>"
    )
    # when it is read
    run = read_junit(report, tmp_path)
    # then each case has its pytest node id and outcome
    assert run.outcomes == {
        "tests/scoring/test_news2.py::test_a": "passed",
        "tests/scoring/test_news2.py::test_b[1]": "skipped",
        "tests/scoring/test_news2.py::TestBands::test_c": "failed",
    }
    assert run.outcome_of("tests/scoring/test_news2.py::test_b") == "skipped"
    assert run.started_at == "2026-12-04T09:00:00"


def test_a_broken_junit_report_is_a_clear_error(tmp_path):
    (tmp_path / "junit.xml").write_text("<testsuites>")
    with pytest.raises(ValueError, match="not a readable JUnit XML report"):
        read_junit(tmp_path / "junit.xml", tmp_path)


def test_the_pdf_has_pages_holding_the_report_and_is_the_same_each_time():
    markdown = release_report_markdown(LOG, RELEASE, evaluate(LOG, ci_run(), RELEASE))
    pdf = markdown_to_pdf(markdown, title="report", created_at=NOW)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert len(reader.pages) >= 2
    assert "Clinical safety case report" in text and "version 1.2.3" in text
    assert "H-02" in text and "Notify outside the browser." in text
    assert markdown_to_pdf(markdown, title="report", created_at=NOW) == pdf


def test_the_command_writes_the_markdown_and_pdf_report_from_a_junit_run(tmp_path):
    # given a log whose one test passed in a JUnit report
    log = write_log(tmp_path / "hazard-log.yaml", hazard_log(hazard(tests=["tests/safety/test_matrix.py::test_x"])))
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuite><testcase classname="tests.safety.test_matrix" name="test_x"/></testsuite>')
    out = tmp_path / "out"
    # when the report is generated
    stdout = StringIO()
    call_command("safety_case", f"--hazard-log={log}", f"--junit={junit}", f"--output={out}", stdout=stdout)
    # then it writes the Markdown and the PDF, citing the run and the test's outcome
    assert "The evidence is complete" in stdout.getvalue()
    markdown = (out / f"safety-case-report-{project_version()}.md").read_text()
    assert f"| test run | {junit} (finished at an unrecorded time) |" in markdown
    assert "- commit tested: not recorded" in markdown
    assert "`tests/safety/test_matrix.py::test_x` — passed" in markdown
    assert len(PdfReader(out / f"safety-case-report-{project_version()}.pdf").pages) >= 1


def test_the_command_fails_when_a_named_test_did_not_pass_but_still_writes_the_draft(tmp_path):
    log = write_log(tmp_path / "hazard-log.yaml", hazard_log(hazard(tests=["tests/safety/test_matrix.py::test_x"])))
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuite><testcase classname="tests.safety.test_matrix" name="test_y"/></testsuite>')
    with pytest.raises(CommandError, match=r"(?s)DRAFT.*tests/safety/test_matrix.py::test_x: not run.*--draft"):
        call_command(
            "safety_case", f"--hazard-log={log}", f"--junit={junit}", f"--output={tmp_path}", stdout=StringIO()
        )
    assert "DRAFT" in (tmp_path / f"safety-case-report-{project_version()}.md").read_text()


def test_the_command_without_a_run_writes_a_draft_only_when_asked(tmp_path, monkeypatch):
    # an earlier whole-suite run in this checkout must not stand in for the missing one
    monkeypatch.setattr("virtualward.management.commands.safety_case.DEFAULT_RESULTS", tmp_path / "none.json")
    log = write_log(tmp_path / "hazard-log.yaml", hazard_log(hazard()))
    missing = tmp_path / "no-run.json"
    with pytest.raises(CommandError, match="not a readable test-run file"):
        call_command("safety_case", f"--hazard-log={log}", f"--results={missing}", stdout=StringIO())
    out = StringIO()
    call_command("safety_case", f"--hazard-log={log}", f"--output={tmp_path}", "--draft", stdout=out)
    assert "the report is a DRAFT, its evidence is incomplete:\n  - no test run is attached" in out.getvalue()
