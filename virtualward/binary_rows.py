"""Read rows in PostgreSQL's binary format, for the hot paths that read many timestamps.

Django's PostgreSQL backend reads results as text, and its loader for ``timestamptz`` parses
each one in Python (about 10 µs a value, measured on ingest's contact read); psycopg decodes
the binary format in C. Errors come out as Django's database errors, so callers that retry on
``OperationalError`` still do; the statement runs on Django's connection, so inside the caller's
transaction, and it is logged where Django logs its own (``connection.queries`` under DEBUG,
and so ``CaptureQueriesContext`` in tests).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection


def fetch_binary(sql: str, params: Sequence[Any]) -> list[tuple]:
    """All rows of ``sql`` (``%s`` placeholders), read in binary; PostgreSQL only."""
    if connection.vendor != "postgresql":
        raise RuntimeError("fetch_binary reads PostgreSQL's binary format")
    connection.ensure_connection()
    started = time.monotonic()
    try:
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, binary=True)
            return cursor.fetchall()
    finally:
        if connection.queries_logged:
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
