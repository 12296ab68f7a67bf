"""Small hazard logs for the safety-case tests, written as the YAML a person would write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def hazard(hazard_id: str = "H-01", *, tests: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    """A valid hazard whose one control names ``tests``."""
    entry: dict[str, Any] = {
        "id": hazard_id,
        "title": f"Hazard {hazard_id}",
        "description": "A reading is scored as normal when it is missing.",
        "causes": ["A device does not measure the parameter."],
        "effects": ["A total that is too low."],
        "initial": {"severity": "Major", "likelihood": "High"},
        "controls": [
            {"description": "A missing parameter is never scored.", "tests": tests or ["tests/test_a.py::test_one"]}
        ],
        "residual": {"severity": "Major", "likelihood": "Very low"},
        "rationale": "The score says it is incomplete.",
        "status": "closed",
    }
    entry.update(changes)
    return entry


def hazard_log(*hazards: dict[str, Any]) -> dict[str, Any]:
    return {"schema": 1, "product": "Virtual Ward", "hazards": list(hazards) or [hazard()]}


def write_log(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
