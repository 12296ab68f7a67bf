"""When many devices fall silent together: the grouping rule, in plain Python.

A device that goes silent is one patient's problem until too many of its neighbours go silent
with it. Neighbours are the devices that share something the platform knows: the mobile
network (operator, MCC+MNC) and the cell they last reported (protocol v1 status "network"),
the ward. A group is an outage when, within ``window``, more of its devices went silent than
its usual rate explains: at least ``min_devices``, and more than the expected count plus
``sigmas`` standard deviations (a Poisson count: the expected count is the group's dropouts
over the last ``baseline`` scaled to the window). When two or more mobile networks (or kinds of
network) cross that line in the same window, the common cause is more likely on the platform's
side (its broker, its network) than in every network at once, and one "broker" incident takes
them all.

Each device joins at most one outage: the broker first, then the largest operator, cell and
ward groups in that order. Only 'device offline' dropouts are ever grouped; a clinical alert is
never folded (see docs/connectivity.md for the false-grouping hazard).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

BROKER, OPERATOR, CELL, WARD = "broker", "operator", "cell", "ward"
GROUP_ORDER = (OPERATOR, CELL, WARD)


@dataclass(frozen=True)
class GroupRule:
    window: timedelta = timedelta(minutes=2)
    min_devices: int = 5
    sigmas: float = 4.0
    baseline: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Dropout:
    """A device that went silent and is not yet part of an incident."""

    device_id: int
    silent_since: datetime
    ward_id: int
    operator: str = ""  # blank: not on a mobile network, or never said
    cell: str = ""
    network_type: str = ""


@dataclass
class Outage:
    kind: str
    value: str
    device_ids: list[int]
    started_at: datetime
    expected: float
    threshold: int
    extra: dict = field(default_factory=dict)


def keys_of(dropout: Dropout) -> list[tuple[str, str]]:
    """The groups a device belongs to, in the order they are tried."""
    keys = []
    if dropout.operator:
        keys.append((OPERATOR, dropout.operator))
    if dropout.cell:
        keys.append((CELL, dropout.cell))
    keys.append((WARD, str(dropout.ward_id)))
    return keys


def network_of(dropout: Dropout) -> str:
    """What the broker test counts as one network: the operator, else the kind of link."""
    return dropout.operator or dropout.network_type or "unknown"


def threshold(expected: float, rule: GroupRule) -> int:
    """How many silent devices in the window the usual rate cannot explain."""
    return max(rule.min_devices, math.floor(expected + rule.sigmas * math.sqrt(expected)) + 1)


def expected_in_window(dropouts_in_baseline: int, rule: GroupRule) -> float:
    return dropouts_in_baseline * (rule.window / rule.baseline)


def find_outages(
    recent: Iterable[Dropout],
    usual: Mapping[tuple[str, str], int],
    *,
    rule: GroupRule = GroupRule(),
) -> list[Outage]:
    """The outages among devices that went silent recently and are in no incident yet.

    Silences are compared with each other, not with the clock: a device is noticed one
    reporting interval and a grace period after it fell silent, so devices lost at the same
    moment are noticed over several sweeps. Each group's densest ``window`` of silences counts.
    ``usual``: each group's dropouts over the baseline period, by (kind, value); ("broker", "")
    for the whole fleet. A group with no history expects none.
    """
    recent = sorted(recent, key=lambda d: (d.silent_since, d.device_id))
    networks: dict[str, list[Dropout]] = {}
    for dropout in recent:
        networks.setdefault(network_of(dropout), []).append(dropout)
    crossing = {
        network: dense
        for network, members in networks.items()
        if len(dense := densest(members, rule.window))
        >= threshold(expected_in_window(usual.get((OPERATOR, network), 0), rule), rule)
    }
    if len(crossing) >= 2:
        first = min(d.silent_since for dense in crossing.values() for d in dense)
        last = max(d.silent_since for dense in crossing.values() for d in dense)
        members = [d for d in recent if first <= d.silent_since <= last]
        expected = expected_in_window(usual.get((BROKER, ""), 0), rule)
        return [_outage(BROKER, "", members, expected, rule, networks=sorted(crossing))]
    outages: list[Outage] = []
    taken: set[int] = set()
    for kind in GROUP_ORDER:
        groups: dict[str, list[Dropout]] = {}
        for dropout in recent:
            for key_kind, value in keys_of(dropout):
                if key_kind == kind and dropout.device_id not in taken:
                    groups.setdefault(value, []).append(dropout)
        for value, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
            dense = densest([d for d in members if d.device_id not in taken], rule.window)
            expected = expected_in_window(usual.get((kind, value), 0), rule)
            if len(dense) >= threshold(expected, rule):
                taken.update(d.device_id for d in dense)
                outages.append(_outage(kind, value, dense, expected, rule))
    return outages


def densest(dropouts: list[Dropout], window: timedelta) -> list[Dropout]:
    """The most silences that fit in one ``window`` (dropouts sorted by silent_since); earliest wins a tie."""
    best: tuple[int, int] = (0, 0)
    start = 0
    for end, dropout in enumerate(dropouts):
        while dropout.silent_since - dropouts[start].silent_since > window:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return dropouts[best[0] : best[1]]


def _outage(kind: str, value: str, members: list[Dropout], expected: float, rule: GroupRule, **extra) -> Outage:
    return Outage(
        kind=kind,
        value=value,
        device_ids=sorted(d.device_id for d in members),
        started_at=min(d.silent_since for d in members),
        expected=expected,
        threshold=threshold(expected, rule),
        extra=extra,
    )


def joins(dropout: Dropout, kind: str, value: str) -> bool:
    """Whether a device that went silent belongs to an open incident of this group."""
    return kind == BROKER or (kind, value) in keys_of(dropout)
