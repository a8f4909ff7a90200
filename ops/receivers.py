"""django-q2's monitor reports each finished task: a busy cluster beats from there, an idle one from its schedule."""
from __future__ import annotations

from django.dispatch import receiver
from django_q.signals import post_execute

from ops.heartbeat import record_heartbeat
from ops.models import Heartbeat


@receiver(post_execute, dispatch_uid="ops.qcluster_heartbeat")
def beat_after_task(sender, task, **kwargs) -> None:
    record_heartbeat(kind=Heartbeat.Kind.QCLUSTER)
