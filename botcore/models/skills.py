"""What skills keep in the database: per-portal switches and options, conversation state, backend runs, and
once-only platform actions."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from botcore.models.bots import left_in_doubt_field
from tenants.fields import EncryptedSecretField
from tenants.models import Portal


class SkillConfig(models.Model):
    """Whether a skill is on for a portal, and its options (validated against the skill's schema)."""

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="skill_configs", verbose_name=_("portal")
    )
    skill_name = models.CharField(max_length=64, verbose_name=_("skill name"))
    is_enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    options = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("skill config")
        verbose_name_plural = _("skill configs")
        constraints = [
            models.UniqueConstraint(fields=["portal", "skill_name"], name="one_config_per_portal_skill")
        ]

    def __str__(self) -> str:
        return f"{self.skill_name} on {self.portal}"


class SkillSecret(models.Model):
    """One Secret option of a skill for a portal (another service's token the portal's admin gave it), kept
    encrypted apart from the options: rotate_encryption_keys re-encrypts it with the portal's tokens, no view
    of the options holds it, and uninstalling the portal destroys it."""

    portal = models.ForeignKey(Portal, on_delete=models.CASCADE, related_name="+")
    skill_name = models.CharField(max_length=64)
    name = models.CharField(max_length=64)
    value = EncryptedSecretField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "skill_name", "name"], name="one_secret_per_portal_skill_option"
            )
        ]

    def __str__(self) -> str:
        return f"{self.skill_name}.{self.name} on {self.portal}"


class ConversationState(models.Model):
    """A skill's JSON state for one dialog of one portal; `version` grows on every write (compare-and-set)."""

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="conversation_states", verbose_name=_("portal")
    )
    skill_name = models.CharField(max_length=64, verbose_name=_("skill name"))
    dialog_id = models.CharField(max_length=64, verbose_name=_("dialog ID"))
    data = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=0, verbose_name=_("version"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        app_label = "botcore"
        verbose_name = _("conversation state")
        verbose_name_plural = _("conversation states")
        constraints = [
            models.UniqueConstraint(
                fields=["portal", "skill_name", "dialog_id"], name="one_state_per_skill_dialog"
            )
        ]

    def __str__(self) -> str:
        return f"{self.skill_name} state of {self.dialog_id}"


class SkillRun(models.Model):
    """One delivery of a backend event to one skill of one portal, claimed once by its unique run_key.

    A schedule's firing, an install announcement or a deferred job is inserted here before anything acts
    on it: a second scheduler (another qcluster) inserting the same key fails and does nothing, and the
    worker that executes it first moves it out of PENDING, so it runs once.
    """

    class Kind(models.TextChoices):
        INSTALLED = "installed", _("Portal installed")
        UNINSTALLED = "uninstalled", _("Portal uninstalled")
        SCHEDULED = "scheduled", _("Scheduled run")
        DEFERRED = "deferred", _("Deferred job")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (skill off for the portal)")

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="skill_runs", verbose_name=_("portal")
    )
    skill_name = models.CharField(max_length=64, verbose_name=_("skill name"))
    kind = models.CharField(max_length=12, choices=Kind.choices, verbose_name=_("kind"))
    run_key = models.CharField(max_length=200, verbose_name=_("run key"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True, verbose_name=_("status")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # Of the attempts, those the task queue's timeout stopped (executor.note_timed_out_run): fewer of them are
    # made than of other attempts (executor.timed_out_too_often), as of a stored event's.
    timed_out_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    due_at = models.DateTimeField(default=timezone.now, verbose_name=_("due at"))
    enqueued_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enqueued at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    # A failed scheduled run's notice to the portal's admins that the platform did not take (it is often down
    # for the same reason the run failed), tried again from notice_due_at by the minute sweep
    # (botcore.services.notices). notice_facts: why it failed ({"why": "refused", "code": ...}), from which
    # each admin's notice is written in their own language; notice_text: the notice in the portal's language,
    # for the release before, which reads only that while an upgrade runs (and for its rows, without facts).
    notice_text = models.TextField(blank=True, default="", db_default="")
    notice_facts = models.JSONField(null=True, blank=True)
    notice_due_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("admins' notice tried again at")
    )
    # What the run left in doubt, and its admins' notice of it (services/doubt_notices.py), as an event log
    # entry's: a post, chat or file that may or may not be on the platform.
    left_in_doubt = left_in_doubt_field()
    doubt_notice_due_at = models.DateTimeField(null=True, blank=True)
    doubt_noticed_at = models.DateTimeField(null=True, blank=True)
    # The worker process running it (a prefix of a poll cycle's lease token: its pid space and pid,
    # worker_liveness.worker_token_prefix), so the minute sweep hands it back as soon as that process is gone,
    # not after the lease (skill_schedules._requeue). Set by each claim; "" on rows of the release before.
    worker = models.CharField(max_length=36, blank=True, default="", db_default="")

    class Meta:
        app_label = "botcore"
        verbose_name = _("skill run")
        verbose_name_plural = _("skill runs")
        constraints = [
            models.UniqueConstraint(fields=["portal", "skill_name", "run_key"], name="one_run_per_key")
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="skill_run_due_idx"),
            # The few runs whose admins' notice of a doubt is due: the minute sweep reads those only.
            models.Index(
                fields=["doubt_notice_due_at"],
                condition=models.Q(doubt_notice_due_at__isnull=False),
                name="skill_run_doubt_due_idx",
            ),
        ]
        ordering = ["-due_at"]
        # Running one again posts to the portal's chats (a standup's questions and summary): a right of its
        # own, not the view right the runs' readers hold (runs have no change right to borrow).
        permissions = [("rerun_skillrun", "Can run skill runs again")]

    def __str__(self) -> str:
        return f"{self.skill_name} {self.kind} {self.run_key}"


class ActionRecord(models.Model):
    """A platform action that has no idempotency key of its own (a file upload, a chat created), done for an
    event or run: handling it again finds the record and does not upload or create a second time."""

    bot = models.ForeignKey("botcore.Bot", on_delete=models.CASCADE, related_name="action_records")
    key = models.CharField(max_length=64)
    result = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # A post's dialog and message id, as its result says them ({"id", "posted_in"}; null for any other
    # action and for a post still in doubt): the newest post of the bot's in a dialog is one row of an index
    # (selectors.newest_recorded_post_in), where the results were read in Python, the newest 50 only.
    # NULL, not "", for "no post": what the release before's INSERTs leave (they name no such column), and
    # what keeps every other action out of the partial index.
    posted_in = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    posted_message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        app_label = "botcore"
        constraints = [models.UniqueConstraint(fields=["bot", "key"], name="one_record_per_action")]
        indexes = [
            models.Index(
                fields=["bot", "posted_in", "posted_message_id"],
                condition=models.Q(posted_in__isnull=False),
                name="action_post_in_dialog_idx",
            )
        ]

    def __str__(self) -> str:
        return f"action {self.key}"
