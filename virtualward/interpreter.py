"""Interpreter settings for long-running processes: short full collections, prompt thread turns.

CPython's oldest generation holds every object that survived two collections: in a Django
process, tens of thousands of modules, classes, functions and settings loaded at startup that
live as long as the process. Each full collection walks them all. In an ingest process at
1,000 msg/s one took 130–180 ms, with the interpreter lock held: every message in flight, and
any alert among them, waited that long. Frozen once startup is done (``gc.freeze``, meant for
exactly this), they are left out of every later collection, which then took about 5 ms.

A process with two busy threads (ingest: paho's network thread and the batch worker) hands the
interpreter lock from one to the other only after the *switch interval*, 5 ms by default:
paho's thread, waiting behind the worker's Python work, reads and acknowledges that much later.
"""

from __future__ import annotations

import gc
import logging
import sys

logger = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect what startup left behind, then exempt every surviving object from future scans.

    Returns how many objects are frozen. Objects frozen are never collected, so this is for the
    point where a process has loaded what it keeps for life, not for a loop.
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.debug("froze %d startup objects out of the garbage collector's scans", frozen)
    return frozen


def switch_interval_s(microseconds: int) -> float:
    """A switch interval given in microseconds, in seconds; ValueError unless it is positive."""
    if microseconds <= 0:
        raise ValueError(f"must be a positive number of microseconds, got {microseconds}")
    return microseconds / 1_000_000


def set_switch_interval(microseconds: int) -> None:
    """How long one thread may hold the interpreter lock while another waits for it."""
    sys.setswitchinterval(switch_interval_s(microseconds))
