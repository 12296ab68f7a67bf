"""FHIR search parameters: parsing, with a clear error for anything not understood, and paging.

Every search is strict: a parameter, prefix or modifier we do not support is a 400 with an
OperationOutcome naming it (silently ignoring it would return more than the caller asked for,
which for a patient's record is worse than an error). Pages are keyset pages ("after this
row"), so a deep page costs what the first one does; ``_count`` is capped at MAX_COUNT.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from virtualward.datetimes import aware_datetime_problem

DEFAULT_COUNT = 50
MAX_COUNT = 200
# Parameters any search accepts besides its own; _format only names JSON (the one format served).
COMMON = frozenset({"_count", "_page", "_format", "format", "_lastUpdated"})
JSON_FORMATS = frozenset({"json", "fhir", "application/json", "application/fhir+json"})


class SearchError(Exception):
    """A request we cannot answer as asked: ``status`` and an OperationOutcome ``code``."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


def check_parameters(params: Any, allowed: Sequence[str]) -> None:
    known = COMMON | set(allowed)
    for name, values in params.lists():
        if any("\x00" in value for value in values):
            raise SearchError(f"The value of {name!r} holds a NUL character.")
        base = name.split(":", 1)[0]
        if ":" in name:
            raise SearchError(f"Search modifier in {name!r} is not supported.", code="not-supported")
        if base not in known:
            raise SearchError(
                f"Unknown or unsupported search parameter {name!r}; this resource supports {', '.join(sorted(known))}.",
                code="not-supported",
            )
    formats = [*params.getlist("_format"), *params.getlist("format")]
    for value in formats:
        if value not in JSON_FORMATS:
            raise SearchError(f"_format {value!r} is not served; only JSON (application/fhir+json).", status=406,
                              code="not-supported")  # fmt: skip


def one(params: Any, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise SearchError(f"Give {name} once (OR-ing values with a comma is supported, repeating it is not).")
    return values[0] if values else None


def values_of(raw: str) -> list[str]:
    # A comma ORs values (FHIR search); "\," is a literal comma inside one value.
    parts = [part.replace("\\,", ",") for part in re.split(r"(?<!\\),", raw)]
    if any(not part for part in parts):
        raise SearchError(f"Empty value in {raw!r}.")
    return parts


_ID = re.compile(r"[1-9][0-9]{0,17}")  # a positive id that fits every database's bigint


def id_number(raw: str) -> int | None:
    """``raw`` as a record id, or None when it cannot be one (so it matches nothing)."""
    return int(raw) if _ID.fullmatch(raw) else None


def count_of(params: Any) -> int:
    raw = one(params, "_count")
    if raw is None:
        return DEFAULT_COUNT
    if not re.fullmatch(r"[0-9]{1,4}", raw) or int(raw) > MAX_COUNT:
        raise SearchError(f"_count must be a whole number from 0 to {MAX_COUNT} (got {raw!r}).")
    return int(raw)


def reference_id(raw: str, resource_type: str) -> int:
    """``Patient/12``, ``12`` or an absolute URL ending in ``Patient/12`` -> 12."""
    match = re.fullmatch(rf"(?:.*/)?(?:{resource_type}/)?([1-9][0-9]{{0,17}})", raw.strip())
    if not match or ("/" in raw and f"{resource_type}/" not in raw):
        raise SearchError(f"{raw!r} is not a reference to a {resource_type} (give {resource_type}/<id> or <id>).")
    return int(match.group(1))


def token(raw: str) -> tuple[str | None, str]:
    """``system|code`` -> (system, code); ``code`` -> (None, code); ``|code`` -> ("", code)."""
    if "|" in raw:
        system, code = raw.split("|", 1)
        if not code:
            raise SearchError(f"Token {raw!r} has a system but no code.")
        return system, code
    return None, raw


# --- dates ---------------------------------------------------------------------------------------

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
SUPPORTED_PREFIXES = ("eq", "gt", "lt", "ge", "le")
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_filter(raw_values: list[str], field: str) -> Q:
    """AND of every ``date=`` given (``date=ge2026-11-01&date=lt2026-11-08``); each may OR with commas."""
    combined = Q()
    for raw in raw_values:
        alternatives = Q()
        for value in values_of(raw):
            alternatives |= _one_date(value, field)
        combined &= alternatives
    return combined


def _one_date(value: str, field: str) -> Q:
    prefix, rest = ("eq", value)
    if value[:2] in PREFIXES and not value[:2].isdigit():
        prefix, rest = value[:2], value[2:]
    if prefix not in SUPPORTED_PREFIXES:
        raise SearchError(f"Date prefix {prefix!r} is not supported; use eq, gt, ge, lt or le.", code="not-supported")
    start, end = date_range(rest)
    return {
        "eq": Q(**{f"{field}__gte": start, f"{field}__lt": end}),
        "gt": Q(**{f"{field}__gte": end}),
        "ge": Q(**{f"{field}__gte": start}),
        "lt": Q(**{f"{field}__lt": start}),
        "le": Q(**{f"{field}__lt": end}),
    }[prefix]


def date_range(value: str) -> tuple[datetime, datetime]:
    """The instants a FHIR date or dateTime covers: [start, end).

    A date without a time (2026, 2026-11, 2026-11-23) is a whole day, month or year in the
    ward's time zone (TIME_ZONE, Europe/London). A time must carry its offset or Z: a time
    without one could be either side of a clock change, so it is refused, never guessed.
    """
    try:
        start, end = _range(value)
    except (ValueError, OverflowError):
        raise SearchError(f"{value!r} is not a date this server can search by (years 1-9998).") from None
    for moment in (start, end):
        problem = aware_datetime_problem(moment)
        if problem:
            raise SearchError(f"{value!r}: {problem}")
    return start, end


def _range(value: str) -> tuple[datetime, datetime]:
    partial = _PARTIAL.match(value)
    zone = ZoneInfo(settings.TIME_ZONE)
    if partial:
        year, month, day = partial.groups()
        first = date(int(year), int(month or 1), int(day or 1))
        if day:
            last = first + timedelta(days=1)
        elif month:
            last = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        else:
            last = date(first.year + 1, 1, 1)
        return datetime.combine(first, time(), tzinfo=zone), datetime.combine(last, time(), tzinfo=zone)
    moment = parse_datetime(value.replace(" ", "+"))  # an unencoded "+" arrives as a space
    if moment is None:
        raise SearchError(f"{value!r} is not a FHIR date or dateTime (e.g. 2026-11-23 or 2026-11-23T10:30:00Z).")
    if timezone.is_naive(moment):
        raise SearchError(f"{value!r} has no time zone: give the offset or Z, e.g. 2026-11-23T10:30:00Z.")
    precision = timedelta(seconds=1) if moment.microsecond == 0 else timedelta(microseconds=1)
    return moment, moment + precision


# --- keyset pages over one or more sources ---------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One table a search reads: rows ordered by ``time_field`` (newest first) then id, or by id."""

    queryset: QuerySet
    time_field: str | None = None


@dataclass
class Page:
    rows: list[tuple[int, Any]]  # (source index, row)
    total: int
    next_cursor: str | None


def paginate(sources: Sequence[Source], *, count: int, cursor: str | None, want_total: bool = True) -> Page:
    after = _decode(cursor) if cursor else None
    if after is not None and (after["k"] >= len(sources) or (after["t"] is None) != (sources[0].time_field is None)):
        raise SearchError("_page is not a page of this search; start again from the search.")
    total = sum(source.queryset.count() for source in sources) if want_total else 0
    if count == 0:
        return Page(rows=[], total=total, next_cursor=None)
    fetched: list[list[tuple[Any, int, Any]]] = []
    for index, source in enumerate(sources):
        rows = list(_after(source, index, after)[: count + 1])
        fetched.append([(_key(source, index, row), index, row) for row in rows])
    merged = list(heapq.merge(*fetched, key=lambda item: item[0]))
    taken = merged[:count]
    more = len(merged) > count
    next_cursor = _encode(sources[taken[-1][1]], taken[-1][1], taken[-1][2]) if more and taken else None
    return Page(rows=[(index, row) for _, index, row in taken], total=total, next_cursor=next_cursor)


def _key(source: Source, index: int, row: Any) -> tuple:
    # Newest first, then the source's place, then the highest id first: sorts like the SQL does.
    if source.time_field is None:
        return (index, row.pk)
    moment = getattr(row, source.time_field)
    return (-moment.timestamp(), index, -row.pk)


def _after(source: Source, index: int, after: dict[str, Any] | None) -> QuerySet:
    queryset = source.queryset
    if source.time_field is None:
        queryset = queryset.order_by("pk")
        return queryset.filter(pk__gt=after["id"]) if after and after["k"] == index else queryset
    field = source.time_field
    queryset = queryset.order_by(f"-{field}", "-pk")
    if after is None:
        return queryset
    moment = datetime.fromisoformat(after["t"])
    if index > after["k"]:
        return queryset.filter(**{f"{field}__lte": moment})
    if index < after["k"]:
        return queryset.filter(**{f"{field}__lt": moment})
    return queryset.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "pk__lt": after["id"]}))


def _encode(source: Source, index: int, row: Any) -> str:
    moment = getattr(row, source.time_field).isoformat() if source.time_field else None
    raw = json.dumps({"t": moment, "k": index, "id": row.pk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict) or data.get("k") not in (0, 1) or type(data.get("id")) is not int:
            raise ValueError
        if not 0 < data["id"] < 10**18:  # an id a database integer can hold
            raise ValueError
        data.setdefault("t", None)
        if data["t"] is not None:
            moment = datetime.fromisoformat(data["t"])
            if timezone.is_naive(moment) or aware_datetime_problem(moment):
                raise ValueError
        return data
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise SearchError("_page is not a page this server gave out; start again from the search.") from None


Builder = Callable[[list[tuple[int, Any]]], list[dict[str, Any]]]
