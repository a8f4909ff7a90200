"""Heartbeats: each long-running process (poller, qcluster) says it is alive, for /readyz and the
dashboard; and operators' API tokens, as digests."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Heartbeat(models.Model):
    """One process of one kind: when it last said it lives, when its loop last did its work, and whether it
    was stopped on purpose; one row per (kind, instance)."""

    class Kind(models.TextChoices):
        # The process that watches the bots for events: runpoller (or runpacer, the design it replaced).
        POLLER = "poller", "Poller"
        QCLUSTER = "qcluster", "Task cluster"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The process, `host:pid@pid-space` (ops.heartbeat.this_process): two qclusters on one host are two
    # rows, so are two under one host name in two PID namespaces (both PID 1), and a restarted one is a new
    # row. The release before named it `host:pid`; one before beats were per process, the host alone.
    instance = models.CharField(max_length=255)
    # The process lives (ops.heartbeat.record_liveness: a qcluster's sentinel each few seconds, idle or not);
    # any work beat too. The release before wrote it only with work.
    beat_at = models.DateTimeField()
    # Until when its last liveness beat says it lives (ops.heartbeat.liveness_max_age, a few beat intervals,
    # written by the beating process): a qcluster killed whole reads silent then, not after its work's max
    # age. None for a process that beats only with its work (the poller), or of a release before.
    alive_until = models.DateTimeField(null=True, blank=True)
    # Its loop did its work (ops.heartbeat.record_heartbeat: the poller's round, a qcluster's task or its
    # minute's schedule, which proves scheduler, broker and a worker turn); None until it has.
    worked_at = models.DateTimeField(null=True, blank=True)
    # It was stopped on purpose (SIGTERM, Ctrl-C) and said so as it ended: neither alive nor silent. A beat
    # after it (a process started again under the pid) clears it.
    stopped_at = models.DateTimeField(null=True, blank=True)
    # The release the beating process runs (ops/release.py): a rolling upgrade shows as two at once.
    release = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The pid space the beating process runs in (botcore.host_identity.this_host_tag), as its cycles' lease
    # tokens name it: once every row of a pid space reads not alive, the leases it holds are handed back by
    # a qcluster of another (botcore.services.polling.release_cycles_of_dead_processes). Empty for a row of
    # a release before (the database's default: its inserts name no such column), which proves nothing.
    pid_space = models.CharField(max_length=12, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "instance"], name="one_heartbeat_per_instance")
        ]
        ordering = ["kind", "instance"]

    def __str__(self) -> str:
        return f"{self.kind}@{self.instance}"


class OperatorToken(models.Model):
    """An operator's API token, kept as its SHA-256 digest (ops/tokens.py): the table opens nothing."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_token"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # None: never expires (issued with --expires-in-days 0, or before expiry existed: see operators.md).
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"API token of {self.user}"
