from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.safety.logs import hazard, hazard_log, write_log
from virtualward.safety.hazard_log import load_hazard_log, parse_hazard_log
from virtualward.safety.render import (
    generated_blocks,
    hazard_log_markdown,
    hazard_markdown,
    refresh_blocks,
    risk_matrix_table,
    summary_lines,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clinical-safety"


def test_the_committed_pages_are_up_to_date_with_the_hazard_log():
    # given the committed YAML and pages, then regenerating them changes nothing
    out = StringIO()
    call_command("safety_case", "--check", stdout=out)
    assert "valid; the pages" in out.getvalue()


def test_rendering_the_same_log_twice_gives_the_same_text():
    log = load_hazard_log()
    assert hazard_log_markdown(log) == hazard_log_markdown(load_hazard_log())
    assert generated_blocks(log) == generated_blocks(load_hazard_log())


def test_a_hazard_is_rendered_with_every_field_dcb0129_asks_for():
    # given a hazard with one control and a deployment condition
    log = parse_hazard_log(hazard_log(hazard(status="transferred", deployment=["Staff the screen."])))
    # when it is rendered
    text = hazard_markdown(log.hazards[0])
    # then description, causes, effects, initial risk, controls with tests, residual risk and status all appear
    for expected in (
        "### H-01 Hazard H-01",
        "A reading is scored as normal when it is missing.",
        "- A device does not measure the parameter.",
        "- A total that is too low.",
        "**Initial risk:** Major × High → **4** (mandatory control)",
        "1. A missing parameter is never scored.",
        "   - `tests/test_a.py::test_one`",
        "**Residual risk:** Major × Very low → **2** (acceptable, ALARP)",
        "**Status:** transferred",
        "- Staff the screen.",
    ):
        assert expected in text


def test_the_outcome_of_each_test_is_shown_when_a_run_is_given():
    log = parse_hazard_log(hazard_log(hazard(tests=["tests/test_a.py::test_one", "tests/test_a.py::test_two"])))
    text = hazard_markdown(log.hazards[0], {"tests/test_a.py::test_one": "passed"})
    assert "`tests/test_a.py::test_one` — passed" in text
    assert "`tests/test_a.py::test_two` — not run" in text


def test_the_matrix_table_prints_the_standards_rows_from_very_high_down():
    lines = risk_matrix_table().splitlines()
    assert lines[2] == "| **Very high** | 3 | 4 | 4 | 5 | 5 |"
    assert lines[6] == "| **Very low** | 1 | 1 | 2 | 2 | 3 |"


def test_a_generated_block_is_replaced_and_the_text_around_it_kept():
    text = "intro\n<!-- BEGIN generated: open-hazards -->\nold\n<!-- END generated: open-hazards -->\noutro\n"
    refreshed = refresh_blocks(text, {"open-hazards": "new\n"})
    assert (
        refreshed == "intro\n<!-- BEGIN generated: open-hazards -->\nnew\n<!-- END generated: open-hazards -->\noutro\n"
    )
    assert refresh_blocks(refreshed, {"open-hazards": "new\n"}) == refreshed


def test_an_unknown_generated_block_is_an_error_naming_it():
    text = "<!-- BEGIN generated: nonsense -->\n<!-- END generated: nonsense -->\n"
    with pytest.raises(ValueError, match="unknown generated block 'nonsense'"):
        refresh_blocks(text, {"open-hazards": ""})


def test_the_terminal_summary_has_one_line_per_hazard_and_the_totals():
    log = parse_hazard_log(hazard_log(hazard("H-01"), hazard("H-02", status="open", actions=["Build it."])))
    lines = summary_lines(log, {"tests/test_a.py::test_one": "passed"})
    assert lines[1].split()[:5] == ["H-01", "4", "2", "closed", "1/1"]
    assert lines[2].split()[:5] == ["H-02", "4", "2", "open", "1/1"]
    assert lines[3] == "2 hazards: 1 closed, 1 open; residual risk 2: 2"
    assert lines[4] == "control tests: 1 named, 1 passed"


def test_the_command_writes_the_pages_then_finds_them_current(tmp_path):
    # given a log and a hand-written page with a generated block
    log = write_log(tmp_path / "hazard-log.yaml", hazard_log(hazard(status="open", actions=["Build it."])))
    page = tmp_path / "case.md"
    page.write_text("# Case\n<!-- BEGIN generated: open-hazards -->\n<!-- END generated: open-hazards -->\n")
    # when --check runs first, it fails naming both pages
    with pytest.raises(CommandError, match="out of date with the hazard log") as raised:
        call_command("safety_case", "--check", f"--hazard-log={log}", stdout=StringIO())
    assert "hazard-log.md" in str(raised.value) and "case.md" in str(raised.value)
    assert "python manage.py safety_case --pages-only" in str(raised.value)
    # when the command regenerates them
    call_command(
        "safety_case", f"--hazard-log={log}", "--pages-only", f"--output={tmp_path / 'out'}", stdout=StringIO()
    )
    # then the page holds the open hazard, no report was written, and --check is satisfied
    assert "- still needed: Build it." in page.read_text()
    assert not (tmp_path / "out").exists()
    call_command("safety_case", "--check", f"--hazard-log={log}", stdout=StringIO())


def test_the_command_refuses_an_invalid_log_with_its_problems(tmp_path):
    log = write_log(tmp_path / "hazard-log.yaml", hazard_log(hazard(controls=[{"description": "x", "tests": []}])))
    with pytest.raises(CommandError, match=r"H-01 controls\[0\] tests: a control must name at least one test"):
        call_command("safety_case", "--check", f"--hazard-log={log}", stdout=StringIO())
