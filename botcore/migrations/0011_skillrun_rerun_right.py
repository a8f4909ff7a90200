"""Running a skill run again takes a right of its own (botcore.rerun_skillrun), as replaying events does
(0010); an Operators group made before is given it, so operators keep what they could do."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPERATORS_GROUP = "Operators"  # ops.operators.GROUP_NAME, as it was when this migration was written


def grant_rerun_to_operators(apps, schema_editor):
    group = apps.get_model("auth", "Group").objects.filter(name=OPERATORS_GROUP).first()
    if group is None:
        return  # create_operator makes the group with every right of the project's apps, this one included
    # Permissions are made after the whole migrate; the group needs this one now.
    app_config = apps.get_app_config("botcore")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
    app_config.models_module = None
    permission = apps.get_model("auth", "Permission").objects.get(
        content_type__app_label="botcore", codename="rerun_skillrun"
    )
    group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("botcore", "0010_eventlogentry_replay_right"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="skillrun",
            options={
                "ordering": ["-due_at"],
                "permissions": [("rerun_skillrun", "Can run skill runs again")],
            },
        ),
        migrations.RunPython(grant_rerun_to_operators, migrations.RunPython.noop),
    ]
