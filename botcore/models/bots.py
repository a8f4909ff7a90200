"""Bots (one per installed portal), their commands, and the event log that is their delivery record."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Portal


class Credential(models.TextChoices):
    """Which of a portal's credentials a platform bot belongs to."""

    SESSION = "session", _("The app key with a portal user's session")
    PERSONAL = "personal", _("The portal's personal key")


class Bot(models.Model):
    """A portal's bot on the platform, with its poll cursor and the pacer's lease."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not registered yet")
        ACTIVE = "active", _("Active")
        WAITING_SESSION = "waiting_session", _("Waiting for a session")
        PAUSED = "paused", _("Paused by an operator")
        BROKEN = "broken", _("Broken (needs an operator)")
        RETIRED = "retired", _("Retired")

    portal = models.ForeignKey(
        Portal, on_delete=models.CASCADE, related_name="bots", verbose_name=_("portal")
    )
    code = models.CharField(max_length=64, verbose_name=_("code"))
    name = models.CharField(max_length=100, verbose_name=_("name"))
    # The code the platform bot is registered under when it is not `code`: a platform that keeps codes per
    # portal across keys had `code` held by a bot outside our key (another app's, or our old key's during a
    # move), so it took a derived one (botcore/services/bot_codes.py). Empty: registered under `code`.
    platform_code = models.CharField(
        max_length=64, blank=True, default="", db_default="", verbose_name=_("code on the platform")
    )
    vibe_bot_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("VibeCode bot ID"))
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True, verbose_name=_("status")
    )
    broken_reason = models.TextField(blank=True, verbose_name=_("broken reason"))
    # The offset we send next: every event below it is stored in our log (the platform's "ack").
    event_offset = models.BigIntegerField(default=0, verbose_name=_("event offset"))
    # Pacing: when the next cycle is due, and the lease a pacer took to enqueue it.
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("next poll at"))
    lease_token = models.CharField(max_length=36, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("lease until"))
    # What the last cycles saw, for the pacer's priorities and the backoff.
    has_more = models.BooleanField(default=False, verbose_name=_("has more"))
    # The platform's last answer to a poll of the bot: a cycle's, or an empty watch's (within a minute).
    last_polled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last polled at"))
    last_event_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last event at"))
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=_("consecutive failures"))
    # Set while the platform is failing this bot (429, 5xx, network): no cycle, early or due, before it.
    backoff_until = models.DateTimeField(null=True, blank=True, verbose_name=_("backoff until"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    # The credential that registered the platform bot: the bot answers only to that one (CONTRACT §7).
    credential_kind = models.CharField(max_length=10, choices=Credential.choices, default=Credential.SESSION)
    # Which of the app's keys registered it, for a bot of the session credential (the first 16 hex digits of
    # the key's SHA-256, botcore.services.platform.app_key_digest; never the key): after VIBE_APP_KEY is
    # rotated, the bot is called with the key it belongs to. Empty: registered before rows kept it.
    app_key_digest = models.CharField(
        max_length=16, blank=True, default="", db_default="", verbose_name=_("app key digest")
    )
    # When the personal key that registered the platform bot was removed or replaced: the bot is registered
    # anew under the portal's credential now, and the old platform bot is not retired again (that was done
    # while its key still worked, or cannot be done without it).
    registered_key_removed_at = models.DateTimeField(null=True, blank=True)
    # When the platform bot `vibe_bot_id` names was found gone: unregistered (an uninstall's DELETE, whose
    # "not found" is done too) or answered BOT_NOT_FOUND (VibeApiError.says_bot_gone; not BOT_ACCESS_DENIED:
    # that bot is there, under another key). Nothing asks the platform to unregister it again (a second
    # uninstall sent a DELETE each time); cleared with a new platform bot.
    vibe_bot_gone_at = models.DateTimeField(null=True, blank=True)
    # What last happened to the bot that its portal's admin should read (a move, a re-provision).
    status_note = models.CharField(max_length=300, blank=True, verbose_name=_("status note"))
    provisioned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("provisioned at"))
    # When a provisioning of this bot was last enqueued or started: while it is younger than the provisioning
    # lease, no other is enqueued (botcore/services/provisioning.py); cleared when that provisioning ends.
    provision_requested_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("provision requested at")
    )
    # When the bot last became active: provisioned, or resumed by a fresh session or an operator. Indexed:
    # the poller reads the bots activated in the last seconds, every second (botcore/poller.py).
    activated_at = models.DateTimeField(null=True, blank=True, db_index=True, verbose_name=_("activated at"))
    commands_signature = models.CharField(max_length=64, blank=True)
    # The notice owed to the portal's admins since a move gave it a new platform bot: the group chats of the
    # old one to add it to (botcore/services/chats_notice.py), kept until every admin was told (then a week
    # more, for an admin's first visit), and when it is due again. Not indexed: set on a handful of rows at
    # a time, and the minute sweep's read of a table with one row per portal costs less than an index every
    # poll's write would keep.
    chats_notice = models.JSONField(null=True, blank=True)
    chats_notice_due_at = models.DateTimeField(null=True, blank=True)
    # When a sync of its commands was queued and has not started yet (bot_profile.request_commands_sync):
    # one at a time, however often an admin switches skills.
    commands_sync_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bot")
        verbose_name_plural = _("bots")
        constraints = [models.UniqueConstraint(fields=["portal", "code"], name="one_bot_code_per_portal")]
        indexes = [models.Index(fields=["status", "next_poll_at"], name="bot_due_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.portal})"


class BotCommand(models.Model):
    """A command registered on the platform for a bot, and the skill that owns it."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="commands", verbose_name=_("bot"))
    skill_name = models.CharField(max_length=64, verbose_name=_("skill name"))
    command = models.CharField(max_length=64, verbose_name=_("command"))
    vibe_command_id = models.BigIntegerField(verbose_name=_("VibeCode command ID"))

    class Meta:
        verbose_name = _("bot command")
        verbose_name_plural = _("bot commands")
        constraints = [models.UniqueConstraint(fields=["bot", "command"], name="one_command_per_bot")]

    def __str__(self) -> str:
        return f"/{self.command} ({self.skill_name})"


class BotChat(models.Model):
    """A group chat a platform bot was added to, as its ONIMBOTV2JOINCHAT event said: the platform lists no
    bot's chats, and the event log keeps its events 14 days (BOTCORE_EVENT_LOG_RETENTION_DAYS), so a quiet
    chat would be forgotten. Read by a move, for the chats notice (botcore/services/chats_notice.py), and by a
    skill form's chat picker (botcore/services/directory.py); written only when such an event is stored (a
    handful a bot), never for a message. No leave is kept: the platform sends no event when a bot leaves or
    is removed from a chat (the move asks it, Chat.get). Pruned hourly once no live bot row points at its
    platform bot (botcore.retention.prune_bot_chats)."""

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="chats")
    vibe_bot_id = models.BigIntegerField()  # the platform bot added: a move's new one is in none of them
    dialog_id = models.CharField(max_length=64)  # chatN
    name = models.CharField(max_length=255, blank=True)  # as the join gave it (a rename sends no event)
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "vibe_bot_id", "dialog_id"], name="one_row_per_bot_chat")
        ]

    def __str__(self) -> str:
        return f"{self.dialog_id} ({self.vibe_bot_id})"


class LeftInDoubt(models.TextChoices):
    """A write a person's event may have made or not (ActionInDoubtError's `write`, or a post left so)."""

    POST = "post", _("a post")
    CHAT = "chat", _("a chat")
    UPLOAD = "upload", _("a file")


def left_in_doubt_field() -> models.CharField:
    """What a piece of work left in doubt ("" for nothing), the one definition an event log entry and a skill
    run share; its default is the database's too, so rows the release before writes get ""."""
    return models.CharField(
        max_length=8,
        choices=LeftInDoubt.choices,
        blank=True,
        default="",
        db_default="",
        verbose_name=_("left in doubt"),
    )


class EventLogEntry(models.Model):
    """One platform event, stored before anything acts on it; unique per bot and event id."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        HANDLED = "handled", _("Handled")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")
        MALFORMED = "malformed", _("Malformed (kept as received)")

    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="events", verbose_name=_("bot"))
    # The platform bot that delivered it: event ids are only unique per platform bot, and a re-provisioned
    # or moved bot gets a new one whose ids start again.
    vibe_bot_id = models.BigIntegerField(null=True, blank=True)
    vibe_event_id = models.BigIntegerField(verbose_name=_("VibeCode event ID"))
    event_type = models.CharField(max_length=64, db_index=True, verbose_name=_("event type"))
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.RECEIVED,
        db_index=True,
        verbose_name=_("status"),
    )
    skill = models.CharField(max_length=64, blank=True, verbose_name=_("skill"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    # Of the attempts, those the task queue's timeout stopped (executor.note_timed_out_attempt): fewer of them
    # are made than of other attempts (conf.handle_max_timed_out_attempts).
    timed_out_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    # After a passing failure (rate limit, outage): not handed to its skill again before this.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text=_("the platform's event date"), verbose_name=_("occurred at")
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("received at"))
    handled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("handled at"))
    duration_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration (ms)"))
    # The message a MESSAGEADD or COMMANDADD adds: a message is added once, so the same one under a second
    # event id is kept IGNORED as a duplicate (CONTRACT B 7.2: de-duplicate by eventId / message.id).
    message_id = models.BigIntegerField(null=True, blank=True)
    # What the handling left in doubt (executor.handle_entry marks it): a post, chat or file that may or may
    # not be on the platform. The portal's admins hear of it (services/doubt_notices.py); their page lists it.
    left_in_doubt = left_in_doubt_field()
    # The admins' notice of it: due from then (a claim moves it on, as a failed run's notice_due_at), and
    # when it went out, covering this entry (the last one sent holds the bot's next notice to the window).
    doubt_notice_due_at = models.DateTimeField(null=True, blank=True)
    doubt_noticed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "vibe_bot_id", "vibe_event_id"], name="one_entry_per_bot_event"
            )
        ]
        indexes = [
            models.Index(fields=["bot", "status", "vibe_event_id"], name="event_pending_idx"),
            models.Index(fields=["bot", "message_id"], name="event_message_idx"),
            # What operators ask of the whole log: its failed (or waiting) events, newest first or since an
            # hour ago (the admin, the operator API, the fleet's figures and the backlog).
            models.Index(fields=["status", "received_at"], name="event_status_received_idx"),
            # The admin's search of the log reads the errors: of the events that have one only, newest first.
            models.Index(
                fields=["received_at", "id"], condition=~models.Q(error=""), name="event_error_received_idx"
            ),
            # The fleet's p95 handler time of the last hour: counted and sorted from this index alone.
            models.Index(
                fields=["received_at", "duration_ms"],
                condition=models.Q(duration_ms__isnull=False),
                name="event_duration_idx",
            ),
            # The few entries left in doubt: the minute sweep's notices and the portal page's list of them.
            models.Index(
                fields=["bot", "received_at"], condition=~models.Q(left_in_doubt=""), name="event_doubt_idx"
            ),
        ]
        ordering = ["-received_at"]
        verbose_name = _("event log entry")
        verbose_name_plural = _("event log")
        # Handling an event again posts to the portal's chats through today's skills, and giving one up
        # leaves a person unanswered: a right of its own, not the view right the log's readers hold (the log
        # has no change right to borrow).
        permissions = [("replay_eventlogentry", "Can replay failed events or give up waiting ones")]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.vibe_event_id}"
