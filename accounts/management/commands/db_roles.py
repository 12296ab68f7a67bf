"""Create or update the owner and application database roles: manage.py db_roles.

Run it on PostgreSQL as a superuser (DATABASE_URL of the DBA) after ``migrate``, or with
``--migrate`` instead of ``migrate``: roles, then the migrations connected as the owner, then the
grants (what docker-compose and ``make run`` do). Passwords come from VW_DB_OWNER_PASSWORD and
VW_DB_APP_PASSWORD (or their ``_FILE``), never the command line. See docs/security.md.
"""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.db_roles import DbRoles, connected_as, db_roles_apply
from virtualward.env import env_secret, env_str


class Command(BaseCommand):
    help = "Create the owner (migrations) and application (no TRUNCATE/ALTER, audit insert-only) database roles."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--owner", default=env_str("VW_DB_OWNER_ROLE", "vw_owner"), help="Owner role name.")
        parser.add_argument("--app", default=env_str("VW_DB_APP_ROLE", "vw_app"), help="Application role name.")
        parser.add_argument(
            "--migrate", action="store_true",
            help="Then run the migrations connected as the owner, and grant again (the deployment step).",
        )  # fmt: skip

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            roles = DbRoles(
                owner=options["owner"],
                app=options["app"],
                owner_password=env_secret("VW_DB_OWNER_PASSWORD") or None,
                app_password=env_secret("VW_DB_APP_PASSWORD") or None,
            )
            db_roles_apply(roles)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if options["migrate"]:
            self._migrate_as_owner(roles, options["verbosity"])
        self.stdout.write(
            f"roles ready: {roles.owner} owns the schema (run migrate as it); {roles.app} may read and write "
            f"the application's tables, only SELECT and INSERT the audit trail, and owns nothing."
        )

    def _migrate_as_owner(self, roles: DbRoles, verbosity: int) -> None:
        with connected_as(roles.owner, roles.owner_password):
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                (user,) = cursor.fetchone()
            self.stdout.write(f"migrating as {user}")
            call_command("migrate", interactive=False, verbosity=verbosity, stdout=self.stdout, stderr=self.stderr)
        # Tables the first migration created took the default grants: narrow the audit trail's now.
        db_roles_apply(roles)
        self.stdout.write(f"grants applied again after the migrations; run the platform as {roles.app}")
