"""A heartbeat row names its process's pid space (botcore.host_identity.this_host_tag), so that a qcluster
can tell a pid space whose processes all read not alive (a container restarted, in a new PID namespace)
and hand back the leases its tokens name. Expand-only: the column has a database default (empty), so the
release before's inserts, which name no such column, still succeed; its rows name no pid space, and no
lease is handed back on them."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0007_heartbeat_alive_until"),
    ]

    operations = [
        migrations.AddField(
            model_name="heartbeat",
            name="pid_space",
            field=models.CharField(blank=True, db_default="", default="", max_length=12),
        ),
    ]
