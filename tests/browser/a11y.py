"""axe-core in the browser tests: WCAG 2.2 AA checks on a live page, failing on serious or
critical violations.

axe-core comes from the axe-playwright-python package (requirements.txt), which ships the
engine's own minified build, so a fresh machine gets it with `make test` and nothing is copied
into the repository. Impacts "minor" and "moderate" are reported in the failure message's
company but do not fail a test: the bar the issue sets is serious and critical.
"""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("serious", "critical")
# WCAG 2.0, 2.1 and 2.2 at levels A and AA: the platform's bar (docs/accessibility.md).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
_axe = Axe()


def axe_violations(page: Any, *, impacts: tuple[str, ...] = BLOCKING) -> list[dict[str, Any]]:
    """The page's axe-core violations at the given impacts, as axe reports them."""
    options = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
    results = _axe.run(page, options=options)
    return [v for v in results.response["violations"] if v.get("impact") in impacts]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node.get("target", []))) for node in v.get("nodes", [])[:5]]
        lines.append(f"{v['impact']}: {v['id']} – {v['help']} ({len(v.get('nodes', []))} nodes) {targets}")
        for node in v.get("nodes", [])[:2]:
            lines.append(f"    {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page: Any, where: str) -> None:
    """Fail with every serious or critical WCAG 2.2 AA violation axe-core finds on the page."""
    found = axe_violations(page)
    assert not found, f"axe-core on {where} ({page.url}):\n{describe(found)}"
