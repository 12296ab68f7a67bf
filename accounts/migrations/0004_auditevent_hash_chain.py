"""The audit trail becomes a hash chain: seq, prev_hash and hash on every event.

Events recorded before this migration are linked in the order they were written (by id). On
PostgreSQL the append-only trigger is switched off for that one backfill, inside this
migration's transaction, and back on before it commits.
"""

from django.db import migrations, models


def link_existing_events(apps, schema_editor):
    from accounts.audit_chain import GENESIS, link_hash

    AuditEvent = apps.get_model("accounts", "AuditEvent")
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute("ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only")
    prev_hash = GENESIS
    for seq, event in enumerate(AuditEvent.objects.order_by("id").iterator(chunk_size=2000), start=1):
        event.seq, event.prev_hash = seq, prev_hash
        event.hash = prev_hash = link_hash(prev_hash, event)
        AuditEvent.objects.filter(pk=event.pk).update(seq=event.seq, prev_hash=event.prev_hash, hash=event.hash)
    if postgresql:
        schema_editor.execute("ALTER TABLE accounts_auditevent ENABLE TRIGGER accounts_auditevent_append_only")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_audit_append_only")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(
                default="", max_length=64, help_text="SHA-256 (hex) of the previous event in the chain."
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(
                default="", max_length=64, help_text="SHA-256 (hex) of prev_hash and this event's content."
            ),
            preserve_default=False,
        ),
        migrations.RunPython(link_existing_events, migrations.RunPython.noop),
    ]
