from django.db import migrations, models


def rename_pacer_beats(apps, schema_editor):
    """The watching process's beats were of kind "pacer": keep them (a host's row once), so /readyz stays
    green across the upgrade."""
    Heartbeat = apps.get_model("ops", "Heartbeat")
    renamed = Heartbeat.objects.filter(kind="poller").values_list("instance", flat=True)
    Heartbeat.objects.filter(kind="pacer", instance__in=list(renamed)).delete()
    Heartbeat.objects.filter(kind="pacer").update(kind="poller")


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="heartbeat",
            name="kind",
            field=models.CharField(
                choices=[("poller", "Poller"), ("qcluster", "Task cluster")], max_length=20
            ),
        ),
        migrations.RunPython(rename_pacer_beats, migrations.RunPython.noop),
    ]
