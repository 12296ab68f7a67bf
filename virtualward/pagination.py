"""Pages of at most ``MAX_PAGE_SIZE`` items, and a clear 400 for a bad ``limit`` or ``offset``.

DRF's LimitOffsetPagination quietly ignores a ``limit`` it cannot read and passes any offset to
the database, where one past 64 bits is a server error. Here both must be whole numbers:
``limit`` 1–MAX_PAGE_SIZE, ``offset`` 0–MAX_OFFSET.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, LimitOffsetPagination

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_OFFSET = 2**31 - 1  # far past any list here, and well inside every database's integers


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE

    def get_limit(self, request: Any) -> int:
        return _bounded(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request: Any) -> int:
        return _bounded(request, self.offset_query_param, 0, 0, MAX_OFFSET)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, MAX_OFFSET)}
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {**parameter["schema"], "minimum": low, "maximum": high}
        return parameters


def _bounded(request: Any, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12 or not low <= int(text) <= high:
        raise ValidationError({name: [f"{name} must be a whole number from {low} to {high}."]})
    return int(text)


class ObservationPagination(BoundedLimitOffsetPagination):
    """Limit/offset as before for existing clients; a cursor walk for those that ask (``?cursor=``).

    With years of readings an offset page costs the rows it skips and its ``count`` every
    matching row. A cursor page (newest first, ``next``/``previous`` links, no count) reads only
    its own rows through the (patient, measured_at) indexes, bounded by the partition key, so
    its cost does not grow with the history (docs/history.md#hot-queries).
    """

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self.cursor: ObservationCursorPagination | None = None
        if ObservationCursorPagination.cursor_query_param in request.query_params:
            self.cursor = ObservationCursorPagination()
            return self.cursor.paginate_queryset(queryset, request, view)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Any:
        if self.cursor is not None:
            return self.cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        cursor = ObservationCursorPagination().get_schema_operation_parameters(view)
        for parameter in cursor:
            if parameter["name"] == ObservationCursorPagination.cursor_query_param:
                parameter["description"] = (
                    "Give it (empty for the first page) to page by cursor: newest first, `next` and "
                    "`previous` links, no `count`. Without it, limit/offset as before."
                )
        return super().get_schema_operation_parameters(view) + cursor


class ObservationCursorPagination(CursorPagination):
    ordering = ("-measured_at", "-id")
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
