"""What a board shows and in what order: its search, filters, sort and view, read from its URL.

The state of a board lives in its query string (``?band=high&silent=1&sort=name&view=detailed``)
so it can be bookmarked and shared, the server renders it on first load, and the live socket
applies the same query to every snapshot: a live event about a patient outside the filter never
inserts them, and one who newly matches appears. Filtering is plain Python over rows already
built by ``frontend.selectors.ward_board``, so a filtered board costs the same queries as the
whole one. Anything in the URL that is not understood is ignored and said so, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.http import QueryDict

from frontend.selectors import sickest_first
from patients.models import Pathway, Ward

BANDS = [
    ("high", "◆ High"),
    ("medium", "▲ Medium"),
    ("low-medium", "● Low–medium"),
    ("low", "○ Low"),
    ("none", "? No score"),
]
SORTS = [
    ("sickest", "Sickest first"),
    ("name", "Name"),
    ("ward", "Ward, then sickest"),
    ("silent", "Longest not heard from"),
    ("review", "Review due soonest"),
]
VIEWS = [("compact", "Compact"), ("detailed", "Detailed")]
DEFAULT_SORT, DEFAULT_VIEW = "sickest", "compact"
# An NHS number is typed with or without its spaces; three digits is enough to narrow a board.
DIGITS = re.compile(r"^[\d\s]{3,}$")


class BoardFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search name or NHS number")
    band = forms.MultipleChoiceField(choices=BANDS, required=False, label="NEWS2 band")
    silent = forms.BooleanField(required=False, label="Not heard from")
    unowned = forms.BooleanField(required=False, label="Alerts nobody owns")
    review = forms.BooleanField(required=False, label="Review due")
    pathway = forms.ChoiceField(choices=[("", "Any pathway"), *Pathway.choices], required=False, label="Pathway")
    ward = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Wards")
    sort = forms.ChoiceField(choices=SORTS, required=False, label="Sort")
    view = forms.ChoiceField(choices=VIEWS, required=False, label="View")

    def __init__(self, *args: Any, wards: Iterable[Ward] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ward"].choices = [(ward.pk, ward.name) for ward in wards]


@dataclass(frozen=True)
class BoardQuery:
    q: str = ""
    bands: tuple[str, ...] = ()
    silent: bool = False
    unowned: bool = False
    review: bool = False
    pathway: str = ""
    wards: tuple[int, ...] = ()
    sort: str = DEFAULT_SORT
    view: str = DEFAULT_VIEW
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def filtered(self) -> bool:
        """True when some patients may be hidden by the query (sort and view hide nobody)."""
        return bool(self.q or self.bands or self.silent or self.unowned or self.review or self.pathway or self.wards)

    @property
    def active_filters(self) -> int:
        return sum(map(bool, (self.bands, self.silent, self.unowned, self.review, self.pathway, self.wards)))

    @property
    def sort_label(self) -> str:
        return dict(SORTS).get(self.sort, self.sort).lower()

    @property
    def unfiltered(self) -> str:
        """The same sort and view with every search and filter cleared."""
        return self.params(q="", band=[], silent="", unowned="", review="", pathway="", ward=[])

    @property
    def carry(self) -> str:
        """The query to carry to another ward's board: everything but the ward filter."""
        return self.params(ward=[])

    def params(self, **changes: Any) -> str:
        """This query as a query string, with ``changes`` applied; defaults are left out."""
        values = {
            "q": self.q,
            "band": list(self.bands),
            "silent": "1" if self.silent else "",
            "unowned": "1" if self.unowned else "",
            "review": "1" if self.review else "",
            "pathway": self.pathway,
            "ward": [str(pk) for pk in self.wards],
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
            "view": "" if self.view == DEFAULT_VIEW else self.view,
        }
        values.update(changes)
        query = QueryDict(mutable=True)
        for key, value in values.items():
            if isinstance(value, list):
                query.setlist(key, value)
            elif value:
                query[key] = value
        return query.urlencode()


def board_query(params: QueryDict | dict[str, Any], *, wards: Iterable[Ward] = ()) -> BoardQuery:
    """The query a board's URL (or a socket's sync message) asks for; bad parts dropped and named."""
    form = BoardFilterForm(params, wards=list(wards))
    form.is_valid()
    data, problems = form.cleaned_data, []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else name
        problems.append(f"{label}: ignored ({' '.join(errors)})")
    return BoardQuery(
        q=" ".join(str(data.get("q") or "").split()),
        bands=tuple(data.get("band") or ()),
        silent=bool(data.get("silent")),
        unowned=bool(data.get("unowned")),
        review=bool(data.get("review")),
        pathway=data.get("pathway") or "",
        wards=tuple(data.get("ward") or ()),
        sort=data.get("sort") or DEFAULT_SORT,
        view=data.get("view") or DEFAULT_VIEW,
        problems=tuple(problems),
    )


def query_from_string(query_string: str, *, wards: Iterable[Ward] = ()) -> BoardQuery:
    return board_query(QueryDict(query_string.lstrip("?")[:2000]), wards=wards)


def apply(rows: list[dict[str, Any]], query: BoardQuery) -> list[dict[str, Any]]:
    """The rows the query keeps, in the order it asks for (rows arrive sickest first)."""
    kept = [row for row in rows if matches(row, query)]
    return sorted(kept, key=SORT_KEYS[query.sort])


def matches(row: dict[str, Any], query: BoardQuery) -> bool:
    band = row["score"]["risk"] if row["score"] else "none"
    checks = (
        not query.q or _found(row, query.q),
        not query.bands or band in query.bands,
        not query.silent or row["not_heard_from"] or row["no_devices"],
        not query.unowned or row["unowned_alerts"] > 0,
        not query.review or row["review_by"] is not None,
        not query.pathway or row["pathway"] == query.pathway,
        not query.wards or row["ward_id"] in query.wards,
    )
    return all(checks)


def _found(row: dict[str, Any], text: str) -> bool:
    if DIGITS.match(text):
        return text.replace(" ", "") in row["nhs_number"]
    name = row["name"].casefold()
    return all(word in name for word in text.casefold().split())


def _by_silence(row: dict[str, Any]) -> tuple:
    # Silent patients first, the longest silence first; a patient never heard from at all
    # (no device, or none that ever spoke) before any who has been.
    silent = row["not_heard_from"] or row["no_devices"]
    heard: datetime | None = row["heard_at"] if silent else None
    return (not silent, heard is not None, heard.timestamp() if heard else 0, *sickest_first(row))


def _by_review(row: dict[str, Any]) -> tuple:
    review: datetime | None = row["review_by"]
    return (review is None, review.timestamp() if review else 0, *sickest_first(row))


SORT_KEYS = {
    "sickest": sickest_first,
    "name": lambda row: (row["sort_name"].casefold(), row["id"]),
    "ward": lambda row: (row["ward_name"], *sickest_first(row)),
    "silent": _by_silence,
    "review": _by_review,
}
