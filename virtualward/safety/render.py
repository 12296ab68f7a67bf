"""The hazard log as Markdown, the risk matrix, and the blocks generated into hand-written pages.

Rendering is deterministic: the same log gives the same bytes, so the committed pages can be
checked against the YAML (``manage.py safety_case --check`` and its test).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from virtualward.safety.evidence import PASSED
from virtualward.safety.hazard_log import Assessment, Hazard, HazardLog
from virtualward.safety.matrix import (
    LIKELIHOOD_MEANINGS,
    LIKELIHOODS,
    RISK_MEANINGS,
    RISK_WORDS,
    SEVERITIES,
    SEVERITY_MEANINGS,
    risk_rating,
)

GENERATED_NOTE = "<!-- Generated from hazard-log.yaml by `manage.py safety_case`: edit the YAML, not this file. -->"
_BLOCK = re.compile(
    r"(<!-- BEGIN generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- END generated: (?P=name) -->)", re.S
)


def assessment_text(assessment: Assessment) -> str:
    return f"{assessment.severity} × {assessment.likelihood} → **{assessment.risk}** ({RISK_WORDS[assessment.risk]})"


def summary_lines(log: HazardLog, outcomes: Mapping[str, str] | None = None) -> list[str]:
    """The residual-risk summary as plain text lines (for the terminal)."""
    lines = [f"{'hazard':<7} {'initial':>7} {'residual':>8}  {'status':<11} {'control tests':<15} title"]
    for hazard in log.hazards:
        tests = list(dict.fromkeys(test for control in hazard.controls for test in control.tests))
        if outcomes is None:
            proof = f"{len(tests)} named"
        else:
            proof = f"{sum(outcomes.get(test) == PASSED for test in tests)}/{len(tests)} passed"
        title = hazard.title if len(hazard.title) <= 70 else hazard.title[:69] + "…"
        risks = f"{hazard.initial.risk:>7} {hazard.residual.risk:>8}"
        lines.append(f"{hazard.id:<7} {risks}  {hazard.status:<11} {proof:<15} {title}")
    lines.append(_totals_text(log))
    if outcomes is not None:
        counts = Counter(outcomes.values())
        lines.append(
            f"control tests: {len(outcomes)} named, "
            + ", ".join(f"{counts[outcome]} {outcome}" for outcome in sorted(counts))
        )
    return lines


def _totals_text(log: HazardLog) -> str:
    statuses = Counter(hazard.status for hazard in log.hazards)
    risks = Counter(hazard.residual.risk for hazard in log.hazards)
    return (
        f"{len(log.hazards)} hazards: "
        + ", ".join(f"{statuses[status]} {status}" for status in sorted(statuses))
        + "; residual risk "
        + ", ".join(f"{risk}: {risks[risk]}" for risk in sorted(risks))
    )


def _ref(hazard: Hazard, link: str | None) -> str:
    return f"[{hazard.id}]({link}#{anchor(hazard)})" if link is not None else hazard.id


def summary_table(log: HazardLog, link: str | None = "hazard-log.md") -> str:
    """The residual-risk summary as a Markdown table, one row per hazard (ids linked to ``link``)."""
    rows = [
        "| hazard | title | initial risk | residual risk | status |",
        "|---|---|---|---|---|",
    ]
    for hazard in log.hazards:
        rows.append(
            f"| {_ref(hazard, link)} | {_cell(hazard.title)} | {hazard.initial.risk} "
            f"| {hazard.residual.risk} ({RISK_WORDS[hazard.residual.risk]}) | {hazard.status} |"
        )
    return "\n".join(rows) + f"\n\n{_totals_text(log)}.\n"


def open_hazards_list(log: HazardLog, link: str | None = "hazard-log.md") -> str:
    """The hazards not closed, with what each still needs."""
    parts = []
    for hazard in log.open_hazards():
        parts.append(
            f"- **{_ref(hazard, link)} {hazard.title}** — {hazard.status}, "
            f"residual risk {hazard.residual.risk} ({RISK_WORDS[hazard.residual.risk]})."
        )
        parts.extend(f"  - still needed: {action}" for action in hazard.actions)
        parts.extend(f"  - deploying organisation: {item}" for item in hazard.deployment)
    return "\n".join(parts) + "\n" if parts else "None.\n"


def risk_matrix_table() -> str:
    """The standard's matrix and the meanings of its categories, as Markdown."""
    header = "| likelihood ↓ / severity → | " + " | ".join(SEVERITIES) + " |"
    lines = [header, "|---|" + "---|" * len(SEVERITIES)]
    for likelihood in reversed(LIKELIHOODS):
        cells = " | ".join(str(risk_rating(severity, likelihood)) for severity in SEVERITIES)
        lines.append(f"| **{likelihood}** | {cells} |")
    lines += ["", "| risk | meaning |", "|---|---|"]
    lines += [f"| {risk} | {meaning} |" for risk, meaning in sorted(RISK_MEANINGS.items(), reverse=True)]
    lines += ["", "| severity | meaning |", "|---|---|"]
    lines += [f"| {name} | {SEVERITY_MEANINGS[name]} |" for name in reversed(SEVERITIES)]
    lines += ["", "| likelihood | meaning |", "|---|---|"]
    lines += [f"| {name} | {LIKELIHOOD_MEANINGS[name]} |" for name in reversed(LIKELIHOODS)]
    return "\n".join(lines) + "\n"


def anchor(hazard: Hazard) -> str:
    return hazard.id.lower()


def hazard_markdown(hazard: Hazard, outcomes: Mapping[str, str] | None = None) -> str:
    """One hazard in the DCB0129 layout; with ``outcomes``, each test's result in a run."""
    lines = [
        f'<a id="{anchor(hazard)}"></a>',
        f"### {hazard.id} {hazard.title}",
        "",
        hazard.description,
        "",
        "**Causes**",
        "",
        *[f"- {cause}" for cause in hazard.causes],
        "",
        "**Effects**",
        "",
        *[f"- {effect}" for effect in hazard.effects],
        "",
        f"**Initial risk:** {assessment_text(hazard.initial)}",
        "",
        "**Controls, each with the tests that prove it**",
        "",
    ]
    for control in hazard.controls:
        lines.append(f"{control.number}. {control.description}")
        for test in control.tests:
            result = f" — {outcomes.get(test, 'not run')}" if outcomes is not None else ""
            lines.append(f"   - `{test}`{result}")
    lines += ["", f"**Residual risk:** {assessment_text(hazard.residual)}", "", hazard.rationale, ""]
    lines.append(f"**Status:** {hazard.status}")
    if hazard.actions:
        lines += ["", "**Still needed**", "", *[f"- {action}" for action in hazard.actions]]
    if hazard.deployment:
        lines += ["", "**For the deploying organisation (DCB0160)**", "", *[f"- {item}" for item in hazard.deployment]]
    return "\n".join(lines) + "\n"


def hazard_log_markdown(log: HazardLog) -> str:
    """The whole hazard log page (``docs/clinical-safety/hazard-log.md``)."""
    parts = [
        GENERATED_NOTE,
        "",
        f"# Hazard log — {log.product}",
        "",
        "The hazard log of the [clinical risk management plan](clinical-risk-management-plan.md), in the",
        "structure of DCB0129: each hazard with its causes and effects, its initial risk from severity and",
        "likelihood on the standard's matrix, the controls that reduce it, **the automated tests that prove",
        "each control** (pytest node ids; `make test` fails if one is missing or, in CI, skipped), its",
        "residual risk and its status. Its source is [`hazard-log.yaml`](hazard-log.yaml).",
        "",
        "## Summary",
        "",
        summary_table(log, link=""),
        "## Hazards",
        "",
    ]
    parts += [hazard_markdown(hazard) for hazard in log.hazards]
    return "\n".join(parts)


def generated_blocks(log: HazardLog) -> dict[str, str]:
    """The blocks that hand-written pages include between ``BEGIN/END generated`` markers."""
    return {
        "risk-matrix": risk_matrix_table(),
        "residual-risk-summary": summary_table(log),
        "open-hazards": open_hazards_list(log),
    }


def refresh_blocks(text: str, blocks: Mapping[str, str]) -> str:
    """``text`` with each generated block it marks replaced by its current content."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            raise ValueError(f"unknown generated block {name!r} (known: {', '.join(sorted(blocks))})")
        return f"{match.group(1)}{blocks[name]}{match.group(4)}"

    return _BLOCK.sub(replace, text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
