"""Create or update the owner and application database roles: manage.py db_roles.

Run it on PostgreSQL as a superuser (DATABASE_URL of the DBA) after ``migrate``. Passwords come
from VW_DB_OWNER_PASSWORD and VW_DB_APP_PASSWORD, never the command line. See docs/security.md.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.db_roles import DbRoles, db_roles_apply
from virtualward.env import env_str


class Command(BaseCommand):
    help = "Create the owner (migrations) and application (no TRUNCATE/ALTER, audit insert-only) database roles."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--owner", default=env_str("VW_DB_OWNER_ROLE", "vw_owner"), help="Owner role name.")
        parser.add_argument("--app", default=env_str("VW_DB_APP_ROLE", "vw_app"), help="Application role name.")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            roles = DbRoles(
                owner=options["owner"],
                app=options["app"],
                owner_password=env_str("VW_DB_OWNER_PASSWORD") or None,
                app_password=env_str("VW_DB_APP_PASSWORD") or None,
            )
            db_roles_apply(roles)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"roles ready: {roles.owner} owns the schema (run migrate as it); {roles.app} may read and write "
            f"the application's tables, only SELECT and INSERT the audit trail, and owns nothing."
        )
