from django.db import migrations


def load(apps, schema_editor):
    from checkins.questions import load_questions

    load_questions(apps)


class Migration(migrations.Migration):
    dependencies = [("checkins", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
