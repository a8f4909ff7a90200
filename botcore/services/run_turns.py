"""Turns: a skill's timed runs on a portal (its schedules' firings, its deferred jobs) run one after another,
in the order they are due (ties in the order they were made).

The minute sweep hands every run due by then to the task queue at once, and of its workers the one given the
later of two reminders due in the same minute posted it before the one given the earlier. A run given to a
worker while one due before it (within the catch-up window before it) has yet to start or to end is handed
back, unspent, and the run before it hands it on when it ends (the minute sweep, should that fail). A run
sent back for a retry is due again later, and holds none of the runs due after its first time.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F, Q, QuerySet

from botcore import conf
from botcore.models import SkillRun
from botcore.services.skill_runs import enqueue_run

TIMED_KINDS = (SkillRun.Kind.SCHEDULED, SkillRun.Kind.DEFERRED)
TURN_NOTE = "waiting for the runs of its skill due before it"


def _runs_due_with(run: SkillRun) -> QuerySet[SkillRun]:
    """The timed runs of `run`'s skill on its portal due since the catch-up window before it, in turn."""
    since = run.due_at - timedelta(minutes=conf.schedule_catch_up_minutes())
    return SkillRun.objects.filter(
        portal_id=run.portal_id, skill_name=run.skill_name, kind__in=TIMED_KINDS, due_at__gte=since
    ).order_by("due_at", "pk")


def waits_for_its_turn(run: SkillRun) -> bool:
    """Whether a run due before `run` has yet to start or to end."""
    if run.kind not in TIMED_KINDS:
        return False
    before = Q(due_at__lt=run.due_at) | Q(due_at=run.due_at, pk__lt=run.pk)
    unfinished = (SkillRun.Status.PENDING, SkillRun.Status.RUNNING)
    return _runs_due_with(run).filter(before, status__in=unfinished).exists()


def wait_for_turn(run: SkillRun) -> str:
    """Hand `run` back to wait for its turn (its claim's attempt given back); enqueued again at once if the
    run before it ended meanwhile (that one handed on nothing: this one was still claimed)."""
    SkillRun.objects.filter(pk=run.pk).update(
        status=SkillRun.Status.PENDING, enqueued_at=None, error=TURN_NOTE, attempts=F("attempts") - 1
    )
    if not waits_for_its_turn(run):
        enqueue_run(run)
    return SkillRun.Status.PENDING


def hand_on(run: SkillRun) -> None:
    """Enqueue the next due run of `run`'s skill waiting for its turn, now that `run` ended or went back."""
    if run.kind not in TIMED_KINDS:
        return
    # Only a run that went back for its turn: one waiting for its bot's backlog (or a retry) handed on by
    # another waiting the same way would hand that one on in turn, back and forth while the backlog lasts.
    # Such a run was due when it was enqueued, by the sweep's clock: not asked again by this worker's, which
    # may run behind it (another host's; a test's sweep at a later time), leaving the run to the next sweep.
    waiting = SkillRun.objects.filter(
        portal_id=run.portal_id, skill_name=run.skill_name, kind__in=TIMED_KINDS, error=TURN_NOTE,
        status=SkillRun.Status.PENDING, enqueued_at__isnull=True,
    ).exclude(pk=run.pk)  # fmt: skip
    following = waiting.order_by("due_at", "pk").first()
    if following is not None:
        enqueue_run(following)
