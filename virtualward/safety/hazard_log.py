"""Load and validate the hazard log (``docs/clinical-safety/hazard-log.yaml``).

Every problem is reported at once, each with where it is (``H-03 controls[2].tests[0]``) and
what is expected, so a one-line slip in the YAML is a clear error rather than a silent gap in
the safety case. Unknown keys are errors too: a misspelt ``test:`` must not hide a control's
missing evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from virtualward.safety.matrix import LIKELIHOODS, SEVERITIES, risk_rating

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = ROOT / "docs" / "clinical-safety" / "hazard-log.yaml"

STATUSES = ("open", "closed", "transferred")
HAZARD_ID = re.compile(r"^H-\d{2,3}$")
NODE_ID = re.compile(r"^tests/[\w./-]+\.py(::\w+)+(\[[^\]]*\])?$")

_TOP_KEYS = {"schema": True, "product": True, "hazards": True}
_HAZARD_KEYS = {
    "id": True,
    "title": True,
    "description": True,
    "causes": True,
    "effects": True,
    "initial": True,
    "controls": True,
    "residual": True,
    "rationale": True,
    "status": True,
    "actions": False,
    "deployment": False,
}
_CONTROL_KEYS = {"description": True, "tests": True}
_NEEDS_ACTIONS = "an open hazard must list its actions (the further controls it still needs)"
_NEEDS_DEPLOYMENT = "a transferred hazard must list what the deploying organisation takes on"


class HazardLogError(ValueError):
    """The hazard log is not valid; ``problems`` lists every reason."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in the hazard log:\n{lines}")


@dataclass(frozen=True)
class Assessment:
    severity: str
    likelihood: str

    @property
    def risk(self) -> int:
        return risk_rating(self.severity, self.likelihood)


@dataclass(frozen=True)
class Control:
    number: int
    description: str
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Hazard:
    id: str
    title: str
    description: str
    causes: tuple[str, ...]
    effects: tuple[str, ...]
    initial: Assessment
    controls: tuple[Control, ...]
    residual: Assessment
    rationale: str
    status: str
    actions: tuple[str, ...] = ()
    deployment: tuple[str, ...] = ()


@dataclass(frozen=True)
class HazardLog:
    product: str
    hazards: tuple[Hazard, ...]
    path: str = field(default="", compare=False)

    def test_ids(self) -> dict[str, list[str]]:
        """Each named test and the controls (``H-01/C2``) that rely on it, in log order."""
        named: dict[str, list[str]] = {}
        for hazard in self.hazards:
            for control in hazard.controls:
                for test in control.tests:
                    named.setdefault(test, []).append(f"{hazard.id}/C{control.number}")
        return named

    def open_hazards(self) -> list[Hazard]:
        return [hazard for hazard in self.hazards if hazard.status != "closed"]


def load_hazard_log(path: Path | str = DEFAULT_PATH) -> HazardLog:
    """The hazard log at ``path``, validated; a ``HazardLogError`` names every problem."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise HazardLogError(path, [f"cannot be read: {exc.strerror or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise HazardLogError(path, [f"is not valid YAML: {exc}"]) from exc
    return parse_hazard_log(data, path=str(path))


def parse_hazard_log(data: Any, *, path: str = "<hazard log>") -> HazardLog:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise HazardLogError(path, ["the file must be a mapping with schema, product and hazards"])
    _check_keys(data, _TOP_KEYS, "the log", problems)
    if data.get("schema") != 1:
        problems.append(f"schema: must be 1, not {data.get('schema')!r}")
    product = _text(data, "product", "the log", problems)
    raw_hazards = data.get("hazards")
    if not isinstance(raw_hazards, list) or not raw_hazards:
        problems.append("hazards: must be a non-empty list")
        raw_hazards = []
    hazards = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_hazards):
        hazard = _parse_hazard(raw, index, problems)
        if hazard is None:
            continue
        if hazard.id in seen:
            problems.append(f"{hazard.id}: the id is used by more than one hazard")
        seen.add(hazard.id)
        hazards.append(hazard)
    if problems:
        raise HazardLogError(path, problems)
    return HazardLog(product=product, hazards=tuple(hazards), path=path)


def _parse_hazard(raw: Any, index: int, problems: list[str]) -> Hazard | None:
    where = f"hazards[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping")
        return None
    hazard_id = raw.get("id")
    if isinstance(hazard_id, str) and HAZARD_ID.match(hazard_id):
        where = hazard_id
    else:
        problems.append(f"{where} id: must look like H-01, not {hazard_id!r}")
    count = len(problems)
    _check_keys(raw, _HAZARD_KEYS, where, problems)
    title = _text(raw, "title", where, problems)
    description = _text(raw, "description", where, problems)
    causes = _texts(raw, "causes", where, problems)
    effects = _texts(raw, "effects", where, problems)
    initial = _assessment(raw, "initial", where, problems)
    controls = _controls(raw, where, problems)
    residual = _assessment(raw, "residual", where, problems)
    rationale = _text(raw, "rationale", where, problems)
    status = raw.get("status")
    if status not in STATUSES:
        problems.append(f"{where} status: must be one of {', '.join(STATUSES)}, not {status!r}")
    actions = _texts(raw, "actions", where, problems, missing=_NEEDS_ACTIONS if status == "open" else "")
    transferred = status == "transferred"
    deployment = _texts(raw, "deployment", where, problems, missing=_NEEDS_DEPLOYMENT if transferred else "")
    if len(problems) > count or initial is None or residual is None:
        return None
    _check_risks(where, initial, residual, status, problems)
    return Hazard(
        id=str(hazard_id), title=title, description=description, causes=causes, effects=effects,
        initial=initial, controls=controls, residual=residual, rationale=rationale, status=str(status),
        actions=actions, deployment=deployment,
    )  # fmt: skip


def _check_risks(where: str, initial: Assessment, residual: Assessment, status: Any, problems: list[str]) -> None:
    if residual.risk > initial.risk:
        problems.append(
            f"{where} residual: its risk ({residual.risk}) is higher than the initial risk ({initial.risk}); "
            "controls cannot raise a risk"
        )
    if status == "closed" and residual.risk >= 4:
        problems.append(
            f"{where} status: a hazard whose residual risk is {residual.risk} cannot be closed "
            "(risk 4 needs further control, 5 is unacceptable)"
        )


def _controls(raw: dict, where: str, problems: list[str]) -> tuple[Control, ...]:
    items = raw.get("controls")
    if not isinstance(items, list) or not items:
        problems.append(f"{where} controls: must be a non-empty list of controls, each with description and tests")
        return ()
    controls = []
    for index, item in enumerate(items):
        here = f"{where} controls[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{here}: must be a mapping with description and tests")
            continue
        _check_keys(item, _CONTROL_KEYS, here, problems)
        description = _text(item, "description", here, problems)
        tests = item.get("tests")
        if not isinstance(tests, list) or not tests:
            problems.append(f"{here} tests: a control must name at least one test that proves it (pytest node ids)")
            tests = []
        for number, test in enumerate(tests):
            if not isinstance(test, str) or not NODE_ID.match(test):
                problems.append(
                    f"{here} tests[{number}]: {test!r} is not a pytest node id (tests/<path>.py::test_name)"
                )
        if len(set(tests)) != len(tests):
            problems.append(f"{here} tests: a test is named twice")
        controls.append(Control(number=index + 1, description=description, tests=tuple(map(str, tests))))
    return tuple(controls)


def _assessment(raw: dict, key: str, where: str, problems: list[str]) -> Assessment | None:
    value = raw.get(key)
    if not isinstance(value, dict):
        problems.append(f"{where} {key}: must be a mapping with severity and likelihood")
        return None
    _check_keys(value, {"severity": True, "likelihood": True}, f"{where} {key}", problems)
    severity, likelihood = value.get("severity"), value.get("likelihood")
    ok = True
    if severity not in SEVERITIES:
        problems.append(f"{where} {key} severity: must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        ok = False
    if likelihood not in LIKELIHOODS:
        problems.append(f"{where} {key} likelihood: must be one of {', '.join(LIKELIHOODS)}, not {likelihood!r}")
        ok = False
    return Assessment(severity=severity, likelihood=likelihood) if ok else None


def _check_keys(raw: dict, keys: dict[str, bool], where: str, problems: list[str]) -> None:
    for key in raw:
        if key not in keys:
            problems.append(f"{where}: unknown key {key!r} (expected {', '.join(keys)})")
    for key, required in keys.items():
        if required and key not in raw:
            problems.append(f"{where}: {key} is missing")


def _text(raw: dict, key: str, where: str, problems: list[str]) -> str:
    value = raw.get(key)
    if key in raw and (not isinstance(value, str) or not value.strip()):
        problems.append(f"{where} {key}: must be non-empty text")
    return value.strip() if isinstance(value, str) else ""


def _texts(raw: dict, key: str, where: str, problems: list[str], *, missing: str = "") -> tuple[str, ...]:
    """A list of text; when absent, ``missing`` (if any) says why it is needed here."""
    if key not in raw:
        if missing:
            problems.append(f"{where} {key}: {missing}")
        return ()
    value = raw[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where} {key}: must be a non-empty list of text")
        return ()
    return tuple(v.strip() for v in value)
