"""The group chats each platform bot joined (BotChat), for a move's chats notice past the log's retention.

Expand-only: a new table. The release before keeps running while `migrate` runs, and again after a rollback
(docs/operators.md, "Upgrade"); its purge of an uninstalled portal deletes the rows of every model it knows,
and a chat row it does not know would fail that purge at its commit, as SkillSecret's did (0016): 0027
has the database delete a bot's chat rows with the bot. The chats of the ONIMBOTV2JOINCHAT events the log
still holds are kept from the start.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

JOIN_CHAT = "ONIMBOTV2JOINCHAT"


def _joined_chat(payload) -> tuple[str, str] | None:
    """(dialog id, name) of the group chat a stored ONIMBOTV2JOINCHAT payload names, else None. Read here,
    not with botcore.vibe.parse: a migration reads the payloads held then, whatever the parser becomes."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("chat"), dict):
        return None
    chat = data["chat"]
    dialog_id = str(chat.get("dialogId") or data.get("dialogId") or "")
    if not dialog_id.startswith("chat") or len(dialog_id) > 64:
        return None
    name = chat.get("name") or chat.get("title") or ""
    return dialog_id, (name if isinstance(name, str) else "")[:255]


def keep_chats_joined(apps, schema_editor):
    """The JOINCHAT events still in the log (a handful a bot: event_type is indexed), in chunks."""
    entries = apps.get_model("botcore", "EventLogEntry").objects.filter(event_type=JOIN_CHAT)
    bot_chat = apps.get_model("botcore", "BotChat")
    rows = {}
    for bot_id, vibe_bot_id, payload, received_at in entries.values_list(
        "bot_id", "vibe_bot_id", "payload", "received_at"
    ).iterator(chunk_size=2000):
        chat = _joined_chat(payload) if vibe_bot_id is not None else None
        if chat is not None:
            key = (bot_id, vibe_bot_id, chat[0])
            rows[key] = bot_chat(
                bot_id=bot_id, vibe_bot_id=vibe_bot_id, dialog_id=chat[0], name=chat[1], joined_at=received_at
            )
        if len(rows) >= 2000:
            bot_chat.objects.bulk_create(list(rows.values()), ignore_conflicts=True)
            rows = {}
    bot_chat.objects.bulk_create(list(rows.values()), ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("botcore", "0025_bot_platform_code"),
    ]

    operations = [
        migrations.CreateModel(
            name="BotChat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("vibe_bot_id", models.BigIntegerField()),
                ("dialog_id", models.CharField(max_length=64)),
                ("name", models.CharField(blank=True, max_length=255)),
                ("joined_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "bot",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="chats", to="botcore.bot"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("bot", "vibe_bot_id", "dialog_id"), name="one_row_per_bot_chat"
                    )
                ],
            },
        ),
        migrations.RunPython(keep_chats_joined, migrations.RunPython.noop, elidable=False),
    ]
