"""The platform's two PostgreSQL roles: an owner that migrates, an application role that cannot.

* **owner** (default ``vw_owner``) owns every table, sequence and function of the schema and is
  the role ``manage.py migrate`` runs as. It is never used by a running process.
* **app** (default ``vw_app``) is what web, ingest, workers and beat connect as. It may SELECT,
  INSERT, UPDATE and DELETE on the application's tables, and only SELECT and INSERT on the audit
  trail (``accounts_auditevent``). It owns nothing, so it cannot TRUNCATE, ALTER (or DISABLE
  TRIGGER on) or DROP any table, and it cannot record migrations.

:func:`db_roles_apply` is idempotent: run it (``manage.py db_roles``, as a superuser or a role
with CREATEROLE that may reassign the objects) once at set-up and again after each migration
that adds tables created by someone other than the owner. Tables the owner creates later get
the application's grants through default privileges. ``manage.py db_roles --migrate`` is the
whole deployment step in one: the roles, then ``migrate`` connected as the owner, then the grants
again (a first migration creates the audit table after the first grants; its narrower rights are
set only then). docker-compose's ``migrate`` service and ``make run`` on PostgreSQL run it, and
start every other process as the application role (:func:`role_database_url`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from django.db import connection, connections, transaction

from virtualward.env import dev_secret, env_secret

AUDIT_TABLE = "accounts_auditevent"
MIGRATIONS_TABLE = "django_migrations"
APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DbRoles:
    owner: str = "vw_owner"
    app: str = "vw_app"
    owner_password: str | None = None
    app_password: str | None = None

    def __post_init__(self) -> None:
        for name in (self.owner, self.app):
            if not _ROLE_NAME.match(name):
                raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only, at most 63")
        if self.owner == self.app:
            raise ValueError("the owner and the application role must be two different roles")


def db_roles_apply(roles: DbRoles) -> None:
    """Create or update both roles, hand every object to the owner, grant the app its rights."""
    if connection.vendor != "postgresql":
        raise ValueError("database roles apply to PostgreSQL only (DATABASE_URL)")
    with transaction.atomic(), connection.cursor() as cursor:
        # Handing a table to the owner waits for every lock on it: fail with a reason, not hang.
        cursor.execute("SET LOCAL lock_timeout = '60s'")
        cursor.execute("SELECT current_user, current_database()")
        current_user, database = cursor.fetchone()
        if roles.app == current_user:
            raise ValueError(f"{roles.app!r} is the role running this; run it as a superuser or the DBA role")
        for name, password in ((roles.owner, roles.owner_password), (roles.app, roles.app_password)):
            _ensure_login_role(cursor, name, password)
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", [AUDIT_TABLE, MIGRATIONS_TABLE])
        migrated = all(cursor.fetchone())  # an empty database (a first deployment) has neither yet
        for statement in _ownership_statements(cursor, roles.owner) + _grant_statements(roles, database, migrated):
            cursor.execute(statement)


def role_database_url(url: str, role: str) -> str:
    """``url`` with ``role`` as its user and no password: that comes from DATABASE_PASSWORD(_FILE)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ValueError(f"database roles apply to PostgreSQL only, not {parts.scheme}://")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{quote(role)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def app_role_env(env: dict[str, str], database_url: str, app_password: str) -> dict[str, str]:
    """``env`` as a running process gets it: the application role, no DBA's or owner's secret."""
    dropped = {"DATABASE_PASSWORD_FILE", "VW_DB_OWNER_PASSWORD", "VW_DB_OWNER_PASSWORD_FILE", "VW_DB_APP_PASSWORD_FILE"}
    app = env.get("VW_DB_APP_ROLE") or "vw_app"
    return {k: v for k, v in env.items() if k not in dropped} | {
        "DATABASE_URL": role_database_url(database_url, app),
        "DATABASE_PASSWORD": app_password,
    }


def db_role_password(which: str) -> str:
    """VW_DB_OWNER_PASSWORD / VW_DB_APP_PASSWORD (or their _FILE) when set, else one made once in
    var/secrets (development: `make run`)."""
    from django.conf import settings

    given = env_secret(f"VW_DB_{which.upper()}_PASSWORD")
    return given or dev_secret(Path(settings.VAR_DIR) / "secrets" / f"db-{which}.secret")


@contextmanager
def connected_as(role: str, password: str | None) -> Iterator[None]:
    """The default connection logs in as ``role`` for the block, then as before again."""
    default = connections["default"]
    saved = {key: default.settings_dict.get(key) for key in ("USER", "PASSWORD")}
    default.close()
    default.settings_dict.update(USER=role, PASSWORD=password or "")
    try:
        yield
    finally:
        default.close()
        default.settings_dict.update(saved)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _ensure_login_role(cursor, name: str, password: str | None) -> None:  # type: ignore[no-untyped-def]
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    if cursor.fetchone() is None:
        cursor.execute(f"CREATE ROLE {_q(name)} LOGIN")
    cursor.execute(f"ALTER ROLE {_q(name)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
    if password:
        cursor.execute(f"ALTER ROLE {_q(name)} PASSWORD %s", [password])


def _ownership_statements(cursor, owner: str) -> list[str]:  # type: ignore[no-untyped-def]
    """ALTER ... OWNER for every table, view, unowned sequence and function in ``public``."""
    cursor.execute(
        "SELECT c.relkind, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) "
        "ORDER BY c.relname"
    )
    kinds = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
    statements = [f"ALTER {kinds[kind]} {_q(name)} OWNER TO {_q(owner)}" for kind, name in cursor.fetchall()]
    cursor.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' ORDER BY 1"
    )
    statements += [f"ALTER FUNCTION {signature} OWNER TO {_q(owner)}" for (signature,) in cursor.fetchall()]
    return statements


def _grant_statements(roles: DbRoles, database: str, migrated: bool = True) -> list[str]:
    owner, app = _q(roles.owner), _q(roles.app)
    narrower = [
        f"REVOKE UPDATE, DELETE ON {_q(AUDIT_TABLE)} FROM {app}",
        f"REVOKE INSERT, UPDATE, DELETE ON {_q(MIGRATIONS_TABLE)} FROM {app}",
    ]
    return [
        f"REVOKE {owner} FROM {app}",
        f"GRANT CONNECT ON DATABASE {_q(database)} TO {owner}, {app}",
        f"GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
        f"GRANT USAGE ON SCHEMA public TO {app}",
        f"REVOKE CREATE ON SCHEMA public FROM {app}",
        f"GRANT {APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA public TO {app}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {app}",
        *(narrower if migrated else []),
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT {APP_TABLE_PRIVILEGES} ON TABLES TO {app}",
        f"ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}",
    ]


def can_manage_roles() -> bool:
    """Whether the current role may create the two roles (a superuser, or CREATEROLE)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    return bool(row and row[0])


def audit_trail_rights() -> list[str] | None:
    """What the current role could do to the audit trail beyond reading and appending.

    None when the database is not PostgreSQL (SQLite has no roles).
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT r.rolsuper, pg_has_role(current_user, t.tableowner, 'USAGE'), "
            "has_table_privilege(%s, 'UPDATE'), has_table_privilege(%s, 'DELETE'), "
            "has_table_privilege(%s, 'TRUNCATE') "
            "FROM pg_roles r, pg_tables t WHERE r.rolname = current_user AND t.tablename = %s",
            [AUDIT_TABLE] * 4,
        )
        row = cursor.fetchone()
    if row is None:
        return None
    superuser, owner, update, delete, truncate = row
    names = ["act as superuser on", "alter or drop (as its owner)", "update", "delete from", "truncate"]
    return [name for name, held in zip(names, (superuser, owner, update, delete, truncate), strict=True) if held]
