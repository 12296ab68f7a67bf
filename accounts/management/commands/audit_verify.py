"""Verify the audit trail's hash chain: manage.py audit_verify [--anchor SEQ:HASH].

Exit status 0 and the chain's head when every link holds; 1 and the first broken link when
one does not. Record the printed head somewhere the database's users cannot write (the
operations log, a ticket) and pass it back as ``--anchor`` later: a trail cut short after that
point is then reported too, which no chain can show on its own.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.audit_chain import audit_chain_verify, parse_anchor


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; exit 1 at the first broken link."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--anchor", help="SEQ:HASH of a head printed by an earlier run; it must still be there.")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        try:
            anchor = parse_anchor(options["anchor"]) if options["anchor"] else None
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        report = audit_chain_verify(anchor=anchor)
        if not report.intact:
            where = f"seq {report.broken_at}" + (f" (event id {report.event_id})" if report.event_id else "")
            raise CommandError(
                f"audit chain BROKEN at {where}: {report.problem}. "
                f"The {report.count} events before it are intact (last good link {report.head_seq}:{report.head_hash})."
            )
        self.stdout.write(
            f"audit chain intact: {report.count} events; head {report.head_seq}:{report.head_hash}"
            + (f"; anchor {anchor[0]} found" if anchor else "")
        )
