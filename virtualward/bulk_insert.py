"""Insert many rows in one statement, for the sweep that records thousands of dropouts at once.

On PostgreSQL the rows go as one array per column through ``unnest`` with server-side binding
in binary (virtualward.binary_rows): Django's ``bulk_create`` builds a model and quotes every
value in Python, which cost the sweep most of its time at 10,000 devices. Elsewhere (SQLite in
tests) ``bulk_create`` does the same job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from psycopg.types.json import Jsonb

from virtualward.binary_rows import fetch_binary


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = (),
    skip_conflicts: bool = False,
) -> list[tuple]:
    """Insert ``rows`` (values in ``columns`` order, field names); the ``returning`` fields of each.

    ``skip_conflicts``: a row that breaks a unique constraint is left out (ON CONFLICT DO
    NOTHING); on SQLite nothing is returned then, as ``bulk_create`` cannot tell.
    """
    if not rows:
        return []
    meta = model._meta
    columns, rows = _with_defaults(meta, columns, rows)
    fields = [meta.get_field(name) for name in columns]
    if connection.vendor != "postgresql":
        made = model.objects.bulk_create(
            [model(**{f.attname: value for f, value in zip(fields, row, strict=True)}) for row in rows],
            ignore_conflicts=skip_conflicts,
            batch_size=500,
        )
        if skip_conflicts:
            return []
        return [tuple(getattr(obj, meta.get_field(name).attname) for name in returning) for obj in made]
    quote = connection.ops.quote_name
    arrays, params = [], []
    for index, field in enumerate(fields):
        values = [row[index] for row in rows]
        if isinstance(field, models.JSONField):
            values = [Jsonb(value) for value in values]
        arrays.append(f"%b::{field.cast_db_type(connection)}[]")  # %b: sent in binary, not escaped
        params.append(values)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608 - model names only
        f"SELECT * FROM unnest({', '.join(arrays)})"
    )
    if skip_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(quote(meta.get_field(name).column) for name in returning)
        return fetch_binary(sql, params)
    fetch_binary(sql + " RETURNING 1", params)
    return []


def _with_defaults(meta: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[list[str], list[tuple]]:
    """Every other field with a default (a blank string for text) gets it, as ``Model.objects.create`` would.

    Django's defaults live in Python, not in the table: a column left out of the raw INSERT
    would be NULL, and a not-null one added to the model later would break the insert.
    """
    named = {meta.get_field(name).attname for name in columns}
    extra = [
        field for field in meta.concrete_fields
        if field.attname not in named and not field.primary_key
        and (field.has_default() or (not field.null and field.empty_strings_allowed))
    ]  # fmt: skip
    if not extra:
        return list(columns), [tuple(row) for row in rows]
    return [*columns, *(f.name for f in extra)], [(*row, *(f.get_default() for f in extra)) for row in rows]
