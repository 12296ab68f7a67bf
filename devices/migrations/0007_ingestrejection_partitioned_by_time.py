"""Rejections partitioned by month of received_at on PostgreSQL (history.partitions); SQLite: no change."""

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

from history.partitions import REJECTIONS, convert_to_partitioned, convert_to_plain


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_partitioned(cursor, REJECTIONS, now=timezone.now(), months_ahead=settings.VW_PARTITION_MONTHS_AHEAD)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        convert_to_plain(cursor, REJECTIONS)


class Migration(migrations.Migration):
    dependencies = [("devices", "0006_merge_certificates_keys_and_network")]

    operations = [
        migrations.RemoveConstraint(model_name="ingestrejection", name="rejection_unique_device_msg_item"),
        migrations.AddConstraint(
            model_name="ingestrejection",
            constraint=models.UniqueConstraint(
                condition=models.Q(("device__isnull", False), ("index__isnull", False)),
                fields=("device", "msg_id", "index", "received_at"),
                name="rejection_unique_device_msg_item",
            ),
        ),
        migrations.RunPython(partition, unpartition, elidable=False),
    ]
