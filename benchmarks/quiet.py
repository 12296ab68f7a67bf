"""Before each step, wait for the machine to go quiet, so every step starts on an idle machine.

The platform and the baseline share the machine and the database, and take turns. A step leaves
work behind it: PostgreSQL's autovacuum of the tables it filled (the platform's, with four indexes,
costs more to vacuum than the baseline's, with none), the platform's routine rescoring, Mosquitto
writing its store. Without a pause that work runs in the next step, which is the other
system's, and the other system's figure pays for it. RFC 2544 likewise lets the device under test
restabilise between trials (§23).

Quiet means the machine's processors were idle for at least ``idle_at_least`` of a one-second
sample (``/proc/stat``; I/O wait does not count as idle, since it is a disk the next step would
share). The wait is bounded: a machine that never goes quiet (another tenant, a broken process)
gets its step anyway, and the step records that it started busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

IDLE_AT_LEAST = 0.90
SAMPLE_S = 1.0
LIMIT_S = 30.0
PROC_STAT = Path("/proc/stat")


class CpuTimes(NamedTuple):
    """Processor time since boot, summed over processors, in the kernel's clock ticks."""

    idle: int
    total: int
    steal: int = 0  # taken by the hypervisor for other guests: a virtual machine's hidden load


@dataclass(frozen=True, slots=True)
class Quiet:
    waited_s: float  # from the first sample's start to the quiet one's end
    idle_share: float | None  # of the last sample; None where the machine cannot tell
    quiet: bool


def cpu_times(stat: str) -> CpuTimes:
    """Idle, total and steal time from the text of ``/proc/stat``: its first line sums every processor.

    Total counts user, nice, system, idle, iowait, irq, softirq and steal (guest time is
    already inside user and nice).
    """
    first = stat.split("\n", 1)[0].split()
    if not first or first[0] != "cpu" or len(first) < 9:
        raise ValueError(f"not a /proc/stat processor line: {stat[:80]!r}")
    ticks = [int(field) for field in first[1:9]]
    return CpuTimes(idle=ticks[3], total=sum(ticks), steal=ticks[7])


def _share(field: str, before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of processor time spent as ``field`` between two readings, to 0.001; None
    where it cannot be told (no reading, or no time passed)."""
    if before is None or after is None or after.total <= before.total:
        return None
    return round((getattr(after, field) - getattr(before, field)) / (after.total - before.total), 3)


def idle_share(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of processor time that was idle between two readings."""
    return _share("idle", before, after)


def steal_share(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The share of processor time the hypervisor gave other guests between two readings.

    On a shared virtual machine this is load the step never sees in its own processes: a step
    with a high share ran on less machine than the others.
    """
    return _share("steal", before, after)


def read_cpu_times(path: Path = PROC_STAT) -> CpuTimes | None:
    """The machine's processor times now; None where there is no ``/proc/stat`` (not Linux)."""
    try:
        return cpu_times(path.read_text())
    except OSError:
        return None


def wait_until_quiet(
    *,
    idle_at_least: float = IDLE_AT_LEAST,
    sample_s: float = SAMPLE_S,
    limit_s: float = LIMIT_S,
    read: Callable[[], CpuTimes | None] = read_cpu_times,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Quiet:
    """Sample for ``sample_s`` at a time until one sample is quiet or ``limit_s`` has passed."""
    if not 0.0 < idle_at_least <= 1.0:
        raise ValueError(f"idle_at_least must be above 0 and at most 1 (got {idle_at_least})")
    started = clock()
    while True:
        before = read()
        if before is None:
            return Quiet(waited_s=0.0, idle_share=None, quiet=True)  # cannot tell: do not hold up
        sleep(sample_s)
        share = idle_share(before, read())
        waited = round(clock() - started, 1)
        if share is not None and share >= idle_at_least:
            return Quiet(waited_s=waited, idle_share=share, quiet=True)
        if waited >= limit_s:
            return Quiet(waited_s=waited, idle_share=share, quiet=False)
