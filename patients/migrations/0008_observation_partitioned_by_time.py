"""Observations partitioned by month of measured_at on PostgreSQL (history.partitions); SQLite: no change.

Every row is moved into the new partitioned table inside the migration's transaction.
"""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from history.partitions import OBSERVATIONS, convert_to_partitioned, convert_to_plain


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_partitioned(
            cursor, OBSERVATIONS, now=timezone.now(), months_ahead=settings.VW_PARTITION_MONTHS_AHEAD
        )


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_plain(cursor, OBSERVATIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("devices", "0006_merge_certificates_keys_and_network"),
        ("patients", "0007_daily_return"),
        # A foreign key to observations must be gone before they are partitioned.
        ("alerts", "0011_persistence_hold_observation_without_constraint"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="observation", name="obs_unique_device_message_item"),
        migrations.AddConstraint(
            model_name="observation",
            constraint=models.UniqueConstraint(
                condition=models.Q(("device__isnull", False)),
                fields=("device", "msg_id", "msg_index", "measured_at"),
                name="obs_unique_device_message_item",
            ),
        ),
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
