"""A release's clinical safety case report, generated from the hazard log and a test run.

The report names the release (version from ``pyproject.toml``, the git commit), the test run its
evidence comes from, the outcome of every test each control names, the residual risks and the
open hazards. It is marked DRAFT whenever the evidence is incomplete: no run, a named test that
did not pass, a run of another commit, a partial run or one outside CI.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from virtualward.safety.evidence import PASSED, TestRun, git_revision
from virtualward.safety.hazard_log import ROOT, HazardLog
from virtualward.safety.render import hazard_markdown, open_hazards_list, summary_table

CLAIM = (
    "Subject to the open hazards and the deployment conditions below, the platform is acceptably safe for "
    "its intended use: remote monitoring of adults on the frailty and respiratory virtual ward pathways by "
    "the ward's clinical team, as the clinical risk management plan describes. Every control this claim "
    "relies on is proven by automated tests, and this report gives the outcome of each in the test run named "
    "below."
)


@dataclass(frozen=True)
class Release:
    product: str
    version: str
    commit: str | None
    dirty: bool | None
    generated_at: dt.datetime

    @property
    def commit_text(self) -> str:
        if self.commit is None:
            return "unknown (not a git checkout)"
        return self.commit + (" (with uncommitted changes)" if self.dirty else "")


@dataclass(frozen=True)
class Evidence:
    run: TestRun | None
    outcomes: dict[str, str]
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    @property
    def passed(self) -> int:
        return sum(outcome == PASSED for outcome in self.outcomes.values())


def project_version(root: Path = ROOT) -> str:
    with (root / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def release_of(log: HazardLog, root: Path = ROOT, now: dt.datetime | None = None) -> Release:
    commit, dirty = git_revision(root)
    generated_at = now or dt.datetime.now(dt.UTC)
    if generated_at.tzinfo is None:
        raise ValueError("the report's time must be time-zone aware")
    return Release(log.product, project_version(root), commit, dirty, generated_at.astimezone(dt.UTC))


def evaluate(log: HazardLog, run: TestRun | None, release: Release) -> Evidence:
    """Each named test's outcome in ``run``, and every reason the evidence falls short."""
    named = list(log.test_ids())
    if run is None:
        return Evidence(None, dict.fromkeys(named, "not run"), ["no test run is attached to this report"])
    outcomes = run.outcomes_of(named)
    problems = [f"{test}: {outcome}" for test, outcome in outcomes.items() if outcome != PASSED]
    if problems:
        problems.insert(0, f"{len(problems)} of {len(named)} named tests did not pass in the run")
    if run.commit and release.commit and run.commit != release.commit:
        problems.append(f"the run tested commit {run.commit}, not this release's {release.commit}")
    if run.full_run is False:
        problems.append("the run was not a run of the whole suite")
    if run.ci is False:
        problems.append("the run was not a CI run on the real services (CI=true)")
    if run.dirty:
        problems.append("the run was made on a work tree with uncommitted changes")
    return Evidence(run, outcomes, problems)


def report_file_stem(release: Release) -> str:
    return f"safety-case-report-{release.version}"


def release_report_markdown(log: HazardLog, release: Release, evidence: Evidence) -> str:
    lines = [f"# Clinical safety case report — {release.product}, version {release.version}", ""]
    if not evidence.complete:
        lines += ["> **DRAFT — the evidence is incomplete; this report does not support a release.**", ""]
    lines += [
        "| | |",
        "|---|---|",
        f"| product | {release.product} |",
        f"| version | {release.version} |",
        f"| commit | {release.commit_text} |",
        f"| generated | {release.generated_at.isoformat(timespec='seconds')} |",
        "| standard | DCB0129 (manufacturer); the deploying organisation's DCB0160 assessment builds on it |",
        "| hazard log | docs/clinical-safety/hazard-log.yaml |",
        f"| test run | {_run_text(evidence.run)} |",
        "",
        "## 1. Safety claim",
        "",
        CLAIM,
        "",
        "## 2. Evidence: the test run",
        "",
        *_evidence_lines(evidence),
        "",
        "## 3. Residual risk",
        "",
        summary_table(log, link=None),
        "## 4. Open and transferred hazards",
        "",
        open_hazards_list(log, link=None),
        "## 5. Conditions for the deploying organisation (DCB0160)",
        "",
        *deployment_lines(log),
        "",
        "## 6. Hazards, controls and the outcome of each test",
        "",
    ]
    lines += [hazard_markdown(hazard, evidence.outcomes) for hazard in log.hazards]
    lines += [
        "## 7. Approval",
        "",
        "To be completed by the Clinical Safety Officer (a role: a registered clinician trained in clinical",
        "risk management, named by the manufacturer for this release).",
        "",
        "| | |",
        "|---|---|",
        "| Clinical Safety Officer, name and professional registration | |",
        "| decision (approved / not approved) | |",
        "| signature and date | |",
        "",
    ]
    return "\n".join(lines)


def deployment_lines(log: HazardLog) -> list[str]:
    items = [f"- {hazard.id}: {item}" for hazard in log.hazards for item in hazard.deployment]
    return items or ["None."]


def _run_text(run: TestRun | None) -> str:
    if run is None:
        return "none attached"
    return f"{run.source} (finished {run.finished_at or run.started_at or 'at an unrecorded time'})"


def _evidence_lines(evidence: Evidence) -> list[str]:
    run = evidence.run
    lines = []
    if run is not None:
        totals = ", ".join(f"{count} {outcome}" for outcome, count in sorted(run.totals.items())) or "not recorded"
        lines += [
            f"- source: `{run.source}`",
            f"- commit tested: {run.commit or 'not recorded'}",
            f"- run under CI on the real services: {_yes_no(run.ci)}; whole suite: {_yes_no(run.full_run)}",
            f"- all tests in the run: {totals}",
        ]
    lines.append(f"- tests named by the hazard log: {len(evidence.outcomes)}, of which {evidence.passed} passed")
    if evidence.complete:
        lines.append("- **The evidence is complete: every test named by a control passed in this run.**")
    else:
        lines += ["- **The evidence is incomplete:**", *[f"  - {problem}" for problem in evidence.problems]]
    return lines


def _yes_no(value: bool | None) -> str:
    return "not recorded" if value is None else ("yes" if value else "no")
