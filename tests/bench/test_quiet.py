"""Each step starts on an idle machine: reading /proc/stat, and the bounded wait for quiet."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmarks import quiet, runner
from benchmarks.quiet import CpuTimes, Quiet, cpu_times, idle_share, read_cpu_times, steal_share, wait_until_quiet
from benchmarks.runner import BenchConfig
from benchmarks.stack import Services
from tests.bench.test_refine import _step

STAT = "cpu  100 5 50 800 20 3 2 10 7 0\ncpu0 50 2 25 400 10 1 1 5 3 0\nintr 12345\n"


def test_processor_times_come_from_the_summed_line_with_guest_time_not_counted_twice():
    # user nice system idle iowait irq softirq steal (guest, guest_nice are inside user and nice)
    assert cpu_times(STAT) == CpuTimes(idle=800, total=100 + 5 + 50 + 800 + 20 + 3 + 2 + 10, steal=10)


def test_steal_is_the_share_of_the_steps_processor_time_other_guests_took():
    assert steal_share(CpuTimes(100, 1000, 10), CpuTimes(150, 1200, 40)) == 0.15
    assert steal_share(None, CpuTimes(150, 1200, 40)) is None
    assert steal_share(CpuTimes(100, 1000, 10), CpuTimes(100, 1000, 10)) is None


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu 1 2 3\n"])
def test_text_that_is_not_a_processor_line_is_refused(text):
    with pytest.raises(ValueError, match="not a /proc/stat processor line"):
        cpu_times(text)


def test_io_wait_is_not_idle():
    # 100 ticks pass: 60 idle, 30 waiting for the disk, 10 busy
    assert idle_share(CpuTimes(1000, 5000), CpuTimes(1060, 5100)) == 0.6
    assert idle_share(CpuTimes(1000, 5000), CpuTimes(1000, 5000)) is None


def test_this_machines_processor_times_read_and_move_on(tmp_path):
    now = read_cpu_times()
    if now is None:
        pytest.skip("no /proc/stat here (not Linux)")
    assert 0 <= now[0] <= now[1]
    assert read_cpu_times(tmp_path / "missing") is None


class _Machine:
    """Idle shares in turn, one per one-second sample, on a fake clock."""

    def __init__(self, shares: list[float]) -> None:
        self.shares = shares
        self.now = 0.0
        self.idle = self.total = 0

    def read(self):
        return CpuTimes(self.idle, self.total)

    def sleep(self, seconds: float) -> None:
        share = self.shares.pop(0) if self.shares else 0.0
        self.now += seconds
        self.idle += round(share * 100)
        self.total += 100

    def clock(self) -> float:
        return self.now


def _wait(machine: _Machine, **kwargs) -> Quiet:
    return wait_until_quiet(read=machine.read, sleep=machine.sleep, clock=machine.clock, **kwargs)


def test_a_busy_machine_is_waited_for_until_one_second_is_quiet():
    machine = _Machine([0.40, 0.70, 0.95])
    assert _wait(machine) == Quiet(waited_s=3.0, idle_share=0.95, quiet=True)


def test_the_wait_is_bounded_and_says_the_machine_never_went_quiet():
    machine = _Machine([0.5] * 100)
    assert _wait(machine, limit_s=5.0) == Quiet(waited_s=5.0, idle_share=0.5, quiet=False)


def test_a_machine_that_cannot_tell_is_not_waited_for():
    assert wait_until_quiet(read=lambda: None, sleep=pytest.fail) == Quiet(waited_s=0.0, idle_share=None, quiet=True)


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_an_impossible_idle_share_is_refused(share):
    with pytest.raises(ValueError, match="idle_at_least must be above 0 and at most 1"):
        wait_until_quiet(idle_at_least=share)


def test_every_step_waits_for_quiet_first_and_records_how_it_began(monkeypatch):
    # given a machine that takes two seconds to quiet down before a step
    order = []
    calm = Quiet(waited_s=2.0, idle_share=0.93, quiet=True)

    def waiting(*, limit_s):
        order.append(("wait", limit_s))
        return calm

    def measure_step(run, index, rate, stage):
        order.append(("step", rate))
        return _step("platform", rate)

    monkeypatch.setattr(quiet, "wait_until_quiet", waiting)
    # and a hypervisor that takes 200 of the step's 2,000 ticks for other guests
    readings = iter([CpuTimes(0, 1000, 0), CpuTimes(500, 3000, 200)])
    monkeypatch.setattr(quiet, "read_cpu_times", lambda: next(readings))
    said = []
    config = BenchConfig(services=Services("", "", ""), rates=[1000.0], seconds=10, quiet_limit_s=12.0)
    run = SimpleNamespace(config=config, say=said.append)
    # when the step is measured
    result = runner._measured(run, SimpleNamespace(dead=lambda: []), measure_step, 0, 1000.0, "ladder")
    # then the wait came first, and the step says how it began
    assert order == [("wait", 12.0), ("step", 1000.0)]
    assert (result.quiet_wait_s, result.idle_before, result.started_quiet) == (2.0, 0.93, True)
    assert result.steal_share == 0.1
    assert result.as_dict()["started_quiet"] is True


def test_a_step_on_a_machine_that_stayed_busy_is_measured_and_flagged(monkeypatch):
    monkeypatch.setattr(quiet, "wait_until_quiet", lambda *, limit_s: Quiet(30.0, 0.41, False))
    said = []
    config = BenchConfig(services=Services("", "", ""), rates=[1000.0], seconds=10)
    run = SimpleNamespace(config=config, say=said.append)
    result = runner._measured(
        run, SimpleNamespace(dead=lambda: []), lambda *args: _step("baseline", 1000.0), 0, 1000.0, "ladder"
    )
    assert result.started_quiet is False
    assert any("still busy after 30 s (idle 0.41)" in line for line in said)


def test_no_wait_at_all_when_the_limit_is_zero(monkeypatch):
    monkeypatch.setattr(quiet, "wait_until_quiet", lambda **kwargs: pytest.fail("waited"))
    config = BenchConfig(services=Services("", "", ""), rates=[1000.0], seconds=10, quiet_limit_s=0)
    run = SimpleNamespace(config=config, say=lambda line: None)
    step = runner._measured(run, SimpleNamespace(dead=lambda: []), lambda *a: _step("platform", 1000.0), 0, 1000.0, "x")
    assert step.started_quiet is None
