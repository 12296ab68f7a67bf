"""What a test run says about the tests the hazard log names.

A run is read either from the result file the pytest plugin writes after a whole-suite run
(``test-artifacts/safety/test-run.json``) or from a JUnit XML report (``pytest --junitxml``).
A named test is matched by node id; a name without parameters covers all of its parametrized
cases, and it counts as passed only if every case ran and passed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS_FORMAT = "virtualward-safety-test-run/1"
PASSED, FAILED, SKIPPED, NOT_RUN = "passed", "failed", "skipped", "not run"
_PRECEDENCE = {FAILED: 3, SKIPPED: 2, PASSED: 1}


def combine(outcomes: Iterable[str]) -> str:
    """One outcome for several cases (or phases) of a test: the worst of them."""
    worst = NOT_RUN
    for outcome in outcomes:
        if _PRECEDENCE.get(outcome, 0) > _PRECEDENCE.get(worst, 0):
            worst = outcome
    return worst


def matches(named: str, node_id: str) -> bool:
    """Whether a collected or reported ``node_id`` is (a parametrized case of) the ``named`` test."""
    return node_id == named or (node_id.startswith(named + "[") and "[" not in named)


def index_by_test(node_ids: Iterable[str]) -> dict[str, list[str]]:
    """Node ids grouped under themselves and under their name without parameters."""
    index: dict[str, list[str]] = {}
    for node_id in node_ids:
        index.setdefault(node_id, []).append(node_id)
        base = node_id.split("[", 1)[0]
        if base != node_id:
            index.setdefault(base, []).append(node_id)
    return index


@dataclass
class TestRun:
    """The outcome of every test of one run, and where and when it ran."""

    __test__ = False  # not a pytest test class, whatever its name

    source: str
    outcomes: dict[str, str]
    commit: str | None = None
    dirty: bool | None = None
    started_at: str | None = None
    finished_at: str | None = None
    ci: bool | None = None
    full_run: bool | None = None
    exit_status: int | None = None
    totals: dict[str, int] = field(default_factory=dict)

    def outcome_of(self, named: str, index: dict[str, list[str]] | None = None) -> str:
        index = index if index is not None else index_by_test(self.outcomes)
        return combine(self.outcomes[node_id] for node_id in index.get(named, ()))

    def outcomes_of(self, named: Iterable[str]) -> dict[str, str]:
        index = index_by_test(self.outcomes)
        return {test: self.outcome_of(test, index) for test in named}


def count_outcomes(outcomes: dict[str, str]) -> dict[str, int]:
    totals = {PASSED: 0, FAILED: 0, SKIPPED: 0}
    for outcome in outcomes.values():
        totals[outcome] = totals.get(outcome, 0) + 1
    return totals


def write_results(path: Path, run: TestRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": RESULTS_FORMAT, **asdict(run)}
    data.pop("source")
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_results(path: Path) -> TestRun:
    """A run from the plugin's result file; a ``ValueError`` says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable test-run file ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise ValueError(f"{path}: not a test-run file written by the safety-case check ({RESULTS_FORMAT})")
    outcomes = data.get("outcomes")
    if not isinstance(outcomes, dict):
        raise ValueError(f"{path}: the test-run file has no outcomes")
    known = {key: data.get(key) for key in TestRun.__dataclass_fields__ if key not in ("source", "outcomes")}
    return TestRun(source=str(path), outcomes=outcomes, **{k: v for k, v in known.items() if v is not None})


def read_junit(path: Path, root: Path) -> TestRun:
    """A run from a JUnit XML report, its test cases turned back into pytest node ids."""
    try:
        tree = ET.parse(path)  # noqa: S314 - a report this project's own test run wrote
    except (OSError, ET.ParseError) as exc:
        raise ValueError(f"{path}: not a readable JUnit XML report ({exc})") from exc
    outcomes: dict[str, str] = {}
    started_at = None
    for suite in tree.getroot().iter("testsuite"):
        started_at = started_at or suite.get("timestamp")
        for case in suite.iter("testcase"):
            node_id = _node_id(case.get("classname", ""), case.get("name", ""), root)
            outcomes[node_id] = combine([outcomes.get(node_id, PASSED), _junit_outcome(case)])
    if not outcomes:
        raise ValueError(f"{path}: the JUnit XML report holds no test cases")
    return TestRun(source=str(path), outcomes=outcomes, started_at=started_at, totals=count_outcomes(outcomes))


def _junit_outcome(case: ET.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return FAILED
    if case.find("skipped") is not None:
        return SKIPPED
    return PASSED


def _node_id(classname: str, name: str, root: Path) -> str:
    # JUnit writes "tests.scoring.test_news2" (or "...test_x.TestClass"): the longest prefix that
    # is a file is the module, the rest are classes.
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        module = "/".join(parts[:cut]) + ".py"
        if (root / module).is_file():
            return "::".join([module, *parts[cut:], name])
    return "::".join(["/".join(parts) + ".py", name]) if parts else name


def git_revision(root: Path) -> tuple[str | None, bool | None]:
    """The commit checked out at ``root`` and whether the work tree differs from it."""
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        dirty = bool(_git(root, "status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return None, None
    return commit, dirty


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise OSError("git is not installed")
    result = subprocess.run([git, *args], cwd=root, check=True, capture_output=True, text=True, timeout=10)  # noqa: S603
    return result.stdout
