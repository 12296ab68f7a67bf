"""The safety-case check that every run of the whole suite makes (``make test``).

At collection it fails the run if any test the hazard log names was not collected (removed or
renamed), before a single test runs. At the end it fails the run under CI (``CI=true``) if a
named test was skipped or did not run, writes each test's outcome to the test-run file that the
release's safety case report cites, and prints the residual-risk summary.

It checks only when the whole suite runs: a run narrowed with paths below the test folders,
node ids, ``-k``, ``-m``, ``--deselect``, ``--ignore`` or ``--lf`` cannot see every named test.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from virtualward.safety.evidence import (
    FAILED,
    NOT_RUN,
    PASSED,
    SKIPPED,
    TestRun,
    count_outcomes,
    git_revision,
    index_by_test,
    write_results,
)
from virtualward.safety.hazard_log import HazardLog, HazardLogError, load_hazard_log
from virtualward.safety.render import summary_lines

DEFAULT_LOG = Path("docs") / "clinical-safety" / "hazard-log.yaml"
DEFAULT_RESULTS = Path("test-artifacts") / "safety" / "test-run.json"
_NARROWING_OPTIONS = ("keyword", "markexpr", "deselect", "ignore", "ignore_glob", "lf", "stepwise")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("safety-case", "clinical safety case (docs/clinical-safety)")
    group.addoption("--hazard-log", default=None, help=f"the hazard log to check (default {DEFAULT_LOG})")
    group.addoption(
        "--safety-results", default=None, help=f"where a whole-suite run writes its test outcomes ({DEFAULT_RESULTS})"
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(SafetyCaseCheck(config), "safety-case-check")


def is_whole_suite(config: pytest.Config) -> bool:
    """Whether this run collects every test of the suite, so a named test's absence means something."""
    if any(getattr(config.option, name, None) for name in _NARROWING_OPTIONS):
        return False
    if any("::" in arg for arg in config.args):
        return False
    root = Path(config.rootpath)
    wanted = [(root / path).resolve() for path in (config.getini("testpaths") or ["."])]
    given = [(Path(config.invocation_params.dir) / arg).resolve() for arg in config.args]
    return all(any(path == arg or arg in path.parents for arg in given) for path in wanted)


class SafetyCaseCheck:
    def __init__(self, config: pytest.Config) -> None:
        root = Path(config.rootpath)
        self.config = config
        self.log_path = Path(config.getoption("hazard_log") or root / DEFAULT_LOG)
        self.results_path = Path(config.getoption("safety_results") or root / DEFAULT_RESULTS)
        self.active = is_whole_suite(config)
        self.ci = os.environ.get("CI") == "true"
        self.log: HazardLog | None = None
        self.outcomes: dict[str, str] = {}
        self.problems: list[str] = []
        self.started_at = dt.datetime.now(dt.UTC)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self.active:
            return
        try:
            self.log = load_hazard_log(self.log_path)
        except HazardLogError as exc:
            pytest.exit(f"safety case: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
        collected = index_by_test(item.nodeid for item in session.items)
        missing = [
            f"{test} (named by {', '.join(controls)}) was not collected: removed or renamed?"
            for test, controls in self.log.test_ids().items()
            if test not in collected
        ]
        if missing:
            lines = "\n".join(f"  - {line}" for line in missing)
            pytest.exit(
                f"safety case: {len(missing)} test(s) named in {self.log_path} do not exist; a control without "
                f"its test proves nothing. Fix the test or the hazard log:\n{lines}",
                returncode=pytest.ExitCode.TESTS_FAILED,
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            outcome = FAILED
        elif report.skipped:
            outcome = SKIPPED  # a skip, or an expected failure: neither proves a control
        elif report.when == "call":
            outcome = PASSED
        else:
            return
        previous = self.outcomes.get(report.nodeid, NOT_RUN)
        if previous in (NOT_RUN, PASSED) or outcome == FAILED:
            self.outcomes[report.nodeid] = outcome

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.log is None or self.config.option.collectonly:
            return
        run = self._run(exitstatus)
        outcomes = run.outcomes_of(self.log.test_ids())
        for test, outcome in outcomes.items():
            if outcome == SKIPPED and self.ci:
                self.problems.append(f"{test} was skipped in CI: the control it proves is unproven")
            elif outcome == NOT_RUN and self.ci and exitstatus == pytest.ExitCode.OK:
                self.problems.append(f"{test} did not run")
        if self.problems and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        run.exit_status = int(session.exitstatus)
        write_results(self.results_path, run)

    def _run(self, exitstatus: int) -> TestRun:
        commit, dirty = git_revision(Path(self.config.rootpath))
        return TestRun(
            source=str(self.results_path),
            outcomes=dict(sorted(self.outcomes.items())),
            commit=commit,
            dirty=dirty,
            started_at=self.started_at.isoformat(timespec="seconds"),
            finished_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ci=self.ci,
            full_run=True,
            exit_status=int(exitstatus),
            totals=count_outcomes(self.outcomes),
        )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.log is None or self.config.option.collectonly:
            return
        outcomes = TestRun(source="", outcomes=self.outcomes).outcomes_of(self.log.test_ids())
        terminalreporter.write_sep("=", f"clinical safety case ({self.log_path.name})")
        for line in summary_lines(self.log, outcomes):
            terminalreporter.write_line(line)
        skipped = sorted(test for test, outcome in outcomes.items() if outcome == SKIPPED)
        if skipped and not self.ci:
            terminalreporter.write_line(
                f"{len(skipped)} control test(s) skipped here; under CI=true a skipped control test fails the run.",
                yellow=True,
            )
        for problem in self.problems:
            terminalreporter.write_line(f"SAFETY CASE CHECK FAILED: {problem}", red=True, bold=True)
        terminalreporter.write_line(f"test outcomes written to {self.results_path}")
