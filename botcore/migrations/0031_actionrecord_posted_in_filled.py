"""The posts the ledger recorded before 0030, their dialog and message id copied from their results into
the new columns, a batch at a time in a transaction each: the table grows with the traffic, and a long
transaction would hold the running release's writes (it keeps recording while `migrate` runs). Run again
after a `migrate` stopped half way, it goes on with the rows still unfilled.

A post the release before records after this ran, until its processes restart on the new code, has its
result alone: a later post's doubt in that dialog is judged against an older mark, and a reply that never
arrived may then be left unsent (said, never doubled), as before the columns, for those minutes only.
"""

from django.db import migrations, transaction

BATCH = 2000


def _post_of(result) -> tuple[str, int | None] | None:
    """(dialog, message id) a recorded post's result names, else None. Read here, not with the ledger's own
    reading: a migration reads the results held then, whatever the ledger becomes."""
    if not isinstance(result, dict):
        return None
    dialog_id, message_id = result.get("posted_in"), result.get("id")
    if not isinstance(dialog_id, str) or not dialog_id or len(dialog_id) > 64:
        return None
    is_id = isinstance(message_id, int) and not isinstance(message_id, bool)
    return dialog_id, message_id if is_id else None


def fill_posted_in(apps, schema_editor):
    records = apps.get_model("botcore", "ActionRecord")
    unfilled = records.objects.filter(posted_in__isnull=True, result__has_key="posted_in").order_by("pk")
    last = 0
    while True:
        batch = list(unfilled.filter(pk__gt=last).only("pk", "result")[:BATCH])
        if not batch:
            return
        last = batch[-1].pk
        filled = []
        for record in batch:
            post = _post_of(record.result)
            if post is not None:
                record.posted_in, record.posted_message_id = post
                filled.append(record)
        with transaction.atomic():
            records.objects.bulk_update(filled, ["posted_in", "posted_message_id"], batch_size=500)


class Migration(migrations.Migration):
    atomic = False  # a transaction a batch, not one over the whole table

    dependencies = [
        ("botcore", "0030_actionrecord_posted_in"),
    ]

    operations = [
        migrations.RunPython(fill_posted_in, migrations.RunPython.noop, elidable=False),
    ]
