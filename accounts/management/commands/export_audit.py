"""Export the audit trail as CSV: manage.py export_audit --as <administrator> [--since] [--until] [-o file].

The export names the administrator it is run for, and is itself recorded in the trail.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.access import is_administrator
from accounts.audit import audit_csv_lines, audit_events, audit_record, parse_bound


class Command(BaseCommand):
    help = "Export the audit trail as CSV (administrators only)."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--as", dest="username", required=True, help="The administrator running the export.")
        parser.add_argument("--since", help="ISO 8601 date or date-time with offset (inclusive).")
        parser.add_argument("--until", help="ISO 8601 date or date-time with offset (exclusive).")
        parser.add_argument("-o", "--output", help="File to write (default: standard output).")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None or not is_administrator(user):
            raise CommandError(f"{options['username']!r} is not an administrator; only administrators may export.")
        try:
            since = parse_bound(options["since"], "--since")
            until = parse_bound(options["until"], "--until")
        except ValueError as error:
            raise CommandError(str(error)) from error
        audit_record(
            actor=user,
            action="audit.exported",
            route="manage.py export_audit",
            detail={"since": options["since"], "until": options["until"]},
        )
        lines = audit_csv_lines(audit_events(since=since, until=until))
        if options["output"]:
            with open(options["output"], "w", newline="") as handle:
                handle.writelines(lines)
        else:
            for line in lines:
                self.stdout.write(line, ending="")
