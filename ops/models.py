"""Heartbeats: each long-running process (poller, qcluster) says it is alive, for /readyz and the
dashboard."""

from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """The last time one process of one kind proved its loop turns; one row per (kind, instance)."""

    class Kind(models.TextChoices):
        # The process that watches the bots for events: runpoller (or runpacer, the design it replaced).
        POLLER = "poller", "Poller"
        QCLUSTER = "qcluster", "Task cluster"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The host (a container's hostname): its own health check asks for its own row.
    instance = models.CharField(max_length=255)
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "instance"], name="one_heartbeat_per_instance")
        ]
        ordering = ["kind", "instance"]

    def __str__(self) -> str:
        return f"{self.kind}@{self.instance}"
