"""Every audit event has its place in the chain: seq is required and unique."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_auditevent_hash_chain")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(
                unique=True, help_text="Position in the hash chain, from 1, no gaps."
            ),
        ),
    ]
