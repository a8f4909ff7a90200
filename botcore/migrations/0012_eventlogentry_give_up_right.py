"""The event log's right to replay (botcore.replay_eventlogentry) also gives up waiting events: its name says
so, here and on databases whose permission row was made under the old name."""

from django.db import migrations

NAME = "Can replay failed events or give up waiting ones"
OLD_NAME = "Can replay failed events"


def rename(apps, schema_editor, *, to: str) -> None:
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="botcore", codename="replay_eventlogentry"
    ).update(name=to)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("botcore", "0011_skillrun_rerun_right"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="eventlogentry",
            options={
                "ordering": ["-received_at"],
                "permissions": [("replay_eventlogentry", NAME)],
                "verbose_name_plural": "event log",
            },
        ),
        migrations.RunPython(
            lambda apps, schema_editor: rename(apps, schema_editor, to=NAME),
            lambda apps, schema_editor: rename(apps, schema_editor, to=OLD_NAME),
        ),
    ]
