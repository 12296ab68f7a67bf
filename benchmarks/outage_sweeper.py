"""A sweeper process for `make bench-outage`: Django is set up here, in the fresh process.

Kept apart from benchmarks/outage.py, which imports models at the top: a spawned process
imports the target's module before Django is ready.
"""

from __future__ import annotations

import time
from typing import Any


def sweep_on_ticks(ready: Any, start: Any, beat_s: float, ticks: int, durations: Any) -> None:
    """Once ready, sweep at the time ``start`` gives and every ``beat_s`` after, as beat would, until done.

    Django is set up and the database connected before saying ready, so a slow start-up on a
    busy machine is not counted as sweep time.
    """
    import django

    django.setup()
    from django.db import connection, connections
    from django.utils import timezone

    from devices.models import Connectivity, Device
    from devices.sweep import sweep_overdue

    connection.ensure_connection()
    ready.put(True)
    first_ts = start.get(timeout=600)

    for tick in range(ticks):
        time.sleep(max(0.0, first_ts + tick * beat_s - time.time()))
        started = time.perf_counter()
        result = sweep_overdue(now=timezone.now())
        durations.append(round(time.perf_counter() - started, 3))
        overdue = Device.objects.filter(overdue_at__lte=timezone.now(), connectivity=Connectivity.ONLINE)
        if result.started == 0 and not overdue.exists():
            break
    connections.close_all()
