"""A skill run's doubts and its worker: what a deferred job or scheduled run left in doubt and its admins'
notice of it (services/doubt_notices.py), as 0029 gave an event log entry, with a partial index on the few
runs whose notice is due; and the worker process that claimed it (worker_liveness), so the minute sweep hands
a run back as soon as that process is gone. Each column's default is the database's too, so rows the release
before writes while an upgrade rolls get "" (nothing in doubt, no worker named: handed back after the lease,
as before). Built concurrently on PostgreSQL, as 0029's."""

from django.db import migrations, models

from botcore.migration_operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("botcore", "0032_actionrecord_post_in_dialog_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="skillrun",
            name="left_in_doubt",
            field=models.CharField(
                blank=True,
                choices=[("post", "a post"), ("chat", "a chat"), ("upload", "a file")],
                db_default="",
                default="",
                max_length=8,
                verbose_name="left in doubt",
            ),
        ),
        migrations.AddField(
            model_name="skillrun",
            name="doubt_notice_due_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="skillrun",
            name="doubt_noticed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="skillrun",
            name="worker",
            field=models.CharField(blank=True, db_default="", default="", max_length=36),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="skillrun",
            index=models.Index(
                condition=models.Q(("doubt_notice_due_at__isnull", False)),
                fields=["doubt_notice_due_at"],
                name="skill_run_doubt_due_idx",
            ),
        ),
    ]
