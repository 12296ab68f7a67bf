"""Time partitions of the tables that grow with readings (PostgreSQL declarative partitioning).

Each table below is ``PARTITION BY RANGE`` on its time column, one partition a calendar month
(UTC), plus a default partition so that a reading whose month has no partition yet is stored,
never refused. Partitions are created ahead by a beat task (:func:`ensure_partitions`); creating
one moves any rows of its month out of the default partition first, so the default stays empty
in normal running.

Why plain declarative partitioning and neither pg_partman nor django-postgres-extra
(docs/history.md): django-postgres-extra needs its own PostgreSQL-only database backend, and
the platform also runs on SQLite; pg_partman is an extension that managed PostgreSQL services
and the CI machine may not offer, and its retention drops or detaches partitions without the
export, verification and audit our archive must do first, so only its "create ahead" would be
used — a dozen lines of DDL here, one code path on every PostgreSQL.

On SQLite nothing here does anything: the tables stay plain.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from django.db import connection, transaction


@dataclasses.dataclass(frozen=True)
class PartitionedTable:
    table: str
    key: str  # the time column partitions are ranged on


OBSERVATIONS = PartitionedTable("patients_observation", "measured_at")
REJECTIONS = PartitionedTable("devices_ingestrejection", "received_at")
PARTITIONED_TABLES = (OBSERVATIONS, REJECTIONS)


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_p{start:%Y_%m}"


def is_partitioned(cursor, table: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid "
        "WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace",
        [table],
    )
    return cursor.fetchone() is not None


def partitions_of(cursor, table: str) -> list[tuple[str, str]]:
    """(name, bound expression) of each partition, oldest first; the default last."""
    cursor.execute(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.relname = %s AND p.relnamespace = 'public'::regnamespace ORDER BY c.relname",
        [table],
    )
    rows = cursor.fetchall()
    return [r for r in rows if r[1] != "DEFAULT"] + [r for r in rows if r[1] == "DEFAULT"]


def create_month(cursor, spec: PartitionedTable, start: datetime) -> bool:
    """Create the month starting at ``start`` if missing, moving its rows out of the default.

    The new table is filled and then attached, so that readings stored in the default partition
    while the month had no partition of its own move with it in one transaction.
    """
    name = partition_name(spec.table, start)
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return False
    end = next_month(start)
    quoted, key, default = _q(spec.table), _q(spec.key), _q(spec.table + "_default")
    cursor.execute(
        f"CREATE TABLE {_q(name)} (LIKE {quoted} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
    )
    cursor.execute(
        f"WITH moved AS (DELETE FROM {default} WHERE {key} >= %s AND {key} < %s RETURNING *) "  # noqa: S608 - fixed names
        f"INSERT INTO {_q(name)} SELECT * FROM moved",
        [start, end],
    )
    cursor.execute(f"ALTER TABLE {quoted} ATTACH PARTITION {_q(name)} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return True


def ensure_partitions(*, now: datetime, months_ahead: int) -> list[str]:
    """Create this month's partition and ``months_ahead`` more; the names created."""
    if connection.vendor != "postgresql":
        return []
    created = []
    with connection.cursor() as cursor:
        for spec in PARTITIONED_TABLES:
            if not is_partitioned(cursor, spec.table):
                continue
            start = month_start(now)
            for _ in range(months_ahead + 1):
                # One transaction a month: the rows moved out of the default and the attach go together.
                with transaction.atomic():
                    if create_month(cursor, spec, start):
                        created.append(partition_name(spec.table, start))
                start = next_month(start)
    return created


# --- converting a plain table (the migrations) ------------------------------------------------


def convert_to_partitioned(cursor, spec: PartitionedTable, *, now: datetime, months_ahead: int) -> None:
    """Turn a plain table into a partitioned one of the same name, keeping every row.

    Indexes and constraints are rebuilt with the same names and definitions, the primary key
    becomes (id, key) as PostgreSQL requires of a partitioned table, and the id sequence goes on
    from the highest id. The old table is locked for the move: readings wait, none are lost.
    """
    if is_partitioned(cursor, spec.table):
        return
    table, old = spec.table, spec.table + "_unpartitioned"
    cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    _refuse_incoming_keys(cursor, table)
    indexes, foreign_keys, pkey = _set_aside(cursor, table, old)
    cursor.execute(
        f"CREATE TABLE {_q(table)} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        f"INCLUDING IDENTITY INCLUDING STORAGE) PARTITION BY RANGE ({_q(spec.key)})"
    )
    cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(pkey)} PRIMARY KEY (id, {_q(spec.key)})")
    cursor.execute(f"CREATE TABLE {_q(table + '_default')} PARTITION OF {_q(table)} DEFAULT")
    cursor.execute(f"SELECT min({_q(spec.key)}) FROM {_q(old)}")  # noqa: S608 - fixed names
    oldest = cursor.fetchone()[0]
    start = month_start(min(oldest, now) if oldest else now)
    last = month_start(now)
    for _ in range(months_ahead):
        last = next_month(last)
    while start <= last:
        create_month(cursor, spec, start)
        start = next_month(start)
    cursor.execute(f"INSERT INTO {_q(table)} SELECT * FROM {_q(old)}")  # noqa: S608 - fixed names
    _restart_identity(cursor, table, old)
    cursor.execute(f"DROP TABLE {_q(old)}")
    _rebuild(cursor, table, indexes, foreign_keys)


def convert_to_plain(cursor, spec: PartitionedTable) -> None:
    """The reverse: one plain table again, every row kept, primary key on id alone."""
    if not is_partitioned(cursor, spec.table):
        return
    table, old = spec.table, spec.table + "_partitioned"
    cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    indexes, foreign_keys, pkey = _set_aside(cursor, table, old)
    cursor.execute(
        f"CREATE TABLE {_q(table)} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY INCLUDING STORAGE)"
    )
    cursor.execute(f"INSERT INTO {_q(table)} SELECT * FROM {_q(old)}")  # noqa: S608 - fixed names
    _restart_identity(cursor, table, old)
    cursor.execute(f"DROP TABLE {_q(old)} CASCADE")
    cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(pkey)} PRIMARY KEY (id)")
    _rebuild(cursor, table, indexes, foreign_keys)


def _set_aside(cursor, table: str, old: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """Strip ``table`` of its indexes, foreign keys and primary key and rename it ``old``, so the
    new table can take the names; what was stripped, for :func:`_rebuild` on the new table."""
    indexes, foreign_keys, pkey = _structure(cursor, table)
    for name, _ in foreign_keys:
        cursor.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(name)}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {_q(name)}")
    cursor.execute(f"ALTER TABLE {_q(table)} DROP CONSTRAINT {_q(pkey)}")
    cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(old)}")
    return indexes, foreign_keys, pkey


def _rebuild(cursor, table: str, indexes: list[tuple[str, str]], foreign_keys: list[tuple[str, str]]) -> None:
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")


def _structure(cursor, table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """The table's own indexes (but the primary key's), its foreign keys, and its primary key's name."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary ORDER BY i.relname",
        [table],
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        [table],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", [table])
    return indexes, foreign_keys, cursor.fetchone()[0]


def _refuse_incoming_keys(cursor, table: str) -> None:
    # A partitioned table's primary key includes the time column, so no foreign key can point
    # at its id alone: a table referenced that way cannot be converted without losing the check.
    cursor.execute("SELECT conname FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'", [table])
    referencing = [row[0] for row in cursor.fetchall()]
    if referencing:
        raise RuntimeError(f"{table} is referenced by foreign keys {referencing}; it cannot be partitioned")


def _restart_identity(cursor, table: str, old: str) -> None:
    cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {_q(old)}")  # noqa: S608 - fixed names
    following = cursor.fetchone()[0]
    cursor.execute(f"ALTER TABLE {_q(table)} ALTER COLUMN id RESTART WITH {int(following)}")


def _q(name: str) -> str:
    return connection.ops.quote_name(name)
