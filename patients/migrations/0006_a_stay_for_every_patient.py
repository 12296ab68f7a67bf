"""Every patient admitted before stays existed gets one stay that mirrors their record.

Referral source, direction and (for the discharged) outcome were never recorded, so they say so
("not_recorded") rather than guess; flow reports count them apart from step-up and step-down.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    Stay = apps.get_model("patients", "Stay")
    without = Patient.objects.filter(stays__isnull=True).select_related("ward")
    Stay.objects.bulk_create(
        [
            Stay(
                patient_id=patient.pk,
                ward_id=patient.ward_id,
                pathway=patient.ward.pathway,
                direction="not_recorded",
                referral_source="not_recorded",
                reason="Admitted before stays were recorded.",
                admitted_at=patient.admitted_at,
                discharged_at=patient.discharged_at,
                outcome="not_recorded" if patient.discharged_at else "",
            )
            for patient in without.iterator()
        ],
        batch_size=500,
    )


class Migration(migrations.Migration):
    dependencies = [("patients", "0005_patient_record_and_stays")]

    # Backwards leaves the stays: removing the table (0005 backwards) removes them anyway.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
