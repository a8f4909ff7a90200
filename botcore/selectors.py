"""Reads of botcore's data: bots, pending events, and each portal's skills with their switches and options.

A skill without a SkillConfig row is on when it is `enabled_by_default`, with its default options.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, Min, Q, QuerySet, Value, When
from django.utils import timezone

from botcore import conf
from botcore.compiled_reads import CompiledRead
from botcore.errors import SkillConfigError
from botcore.models import ActionRecord, Bot, EventLogEntry, SkillConfig, SkillSecret
from botcore.skills.base import Skill
from botcore.skills.registry import configured_skills
from ops.redaction import note_secrets
from tenants.crypto import decrypt_secret
from tenants.errors import SecretDecryptionError
from tenants.models import Portal

log = logging.getLogger(__name__)


def get_bot(bot_id: int) -> Bot:
    return Bot.objects.select_related("portal").get(pk=bot_id)


def list_portal_code_bots(portal: Portal) -> QuerySet[Bot]:
    """The portal's bot rows of the code the deployment registers (BOTCORE_BOT_CODE): one at most."""
    return Bot.objects.filter(portal=portal, code=conf.bot_code())


def _ours_first(bots: QuerySet[Bot]) -> QuerySet[Bot]:
    """`bots` with the row of the deployment's code first: a portal may keep a row of another code (an
    earlier BOTCORE_BOT_CODE's, its platform bot still listed for our key beside ours), and "the portal's
    bot" is ours wherever it has one; another code's row only where it has none."""
    return bots.order_by(Case(When(code=conf.bot_code(), then=Value(0)), default=Value(1)), "pk")


def find_portal_bot(portal: Portal) -> Bot | None:
    return _ours_first(Bot.objects.filter(portal=portal).exclude(status=Bot.Status.RETIRED)).first()


def find_registered_bot(portal: Portal) -> Bot | None:
    """The portal's bot that has a bot on the platform (running, paused or waiting), if any: ours (the
    deployment's code) where the portal has one of each."""
    return _ours_first(
        Bot.objects.filter(portal=portal, vibe_bot_id__isnull=False).exclude(status=Bot.Status.RETIRED)
    ).first()


def running_bots() -> QuerySet[Bot]:
    """Bots that run: active and registered on the platform (watched, polled, fired for by schedules)."""
    return Bot.objects.filter(status=Bot.Status.ACTIVE, vibe_bot_id__isnull=False)


def lease_is_free(now: datetime) -> Q:
    """Bots no cycle holds at `now`: never leased, or their lease has run out."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def find_active_bot(portal: Portal) -> Bot | None:
    """The portal's bot that is registered on the platform and running, if any."""
    return running_bots().filter(portal=portal).first()


def count_bots_by_status() -> dict[str, int]:
    """Every bot status with its number of bots (0 included)."""
    counts = dict(Bot.objects.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in Bot.Status.values}


@dataclass(frozen=True)
class Backlog:
    """Stored events not handled yet, across the fleet."""

    count: int
    oldest_received_at: datetime | None


def get_event_backlog() -> Backlog:
    figures = EventLogEntry.objects.filter(status=EventLogEntry.Status.RECEIVED).aggregate(
        n=Count("pk"), oldest=Min("received_at")
    )
    return Backlog(count=figures["n"], oldest_received_at=figures["oldest"])


def list_pending_entries(bot: Bot | int) -> QuerySet[EventLogEntry]:
    """Stored events not yet routed, in the order they arrived (by event id within a batch of one platform
    bot; a moved bot's drained events before its new bot's): what the next cycle must handle first."""
    return EventLogEntry.objects.filter(bot=bot, status=EventLogEntry.Status.RECEIVED).order_by("pk")


_PENDING_ENTRIES = CompiledRead(list_pending_entries)


def read_pending_entries(bot: Bot) -> list[EventLogEntry]:
    """list_pending_entries, read as a cycle reads it before each message it handles (compiled once)."""
    return _PENDING_ENTRIES.all(bot=bot.pk)


def has_events_waiting_from_before(bot: Bot, moment: datetime) -> bool:
    """Whether the bot has stored events not yet handled that happened before `moment`, a time on our clock
    (by the platform's date read on our clock, estimate_platform_clock_lead; by when they were stored for an
    event without one)."""
    on_platform = moment + estimate_platform_clock_lead(bot)
    before = Q(occurred_at__lt=on_platform) | Q(occurred_at__isnull=True, received_at__lt=moment)
    return list_pending_entries(bot).filter(before).exists()


# How many of a bot's newest stored messages newest_stored_message_in looks through for one dialog's.
NEWEST_STORED_SCAN = 50


def newest_stored_message_in(bot: Bot, dialog_id: str, *, above: int | None = None) -> int | None:
    """The newest person's message the event log holds for `bot` in `dialog_id` (above message id `above`),
    among the bot's NEWEST_STORED_SCAN newest stored messages: one known to be in the chat before a post the
    handling is about to make. A reply's doubt is judged against the chat's newest message then
    (skills/context.py _post_once), and a bot behind its dialog (the person's next message stored already)
    judged it against the message it answers: its reply, never sent, read as "the post or someone writing
    since" and was left unsent (chaos, full profile, no-template-dedupe)."""
    rows = EventLogEntry.objects.filter(
        bot=bot, vibe_bot_id=bot.vibe_bot_id, message_id__isnull=False, message_id__gt=above or 0
    ).order_by("-message_id")  # the (bot, message_id) index
    for message_id, payload in rows.values_list("message_id", "payload")[:NEWEST_STORED_SCAN]:
        data = payload.get("data") if isinstance(payload, Mapping) else None
        chat = data.get("chat") if isinstance(data, Mapping) else None
        named = (data or {}).get("dialogId") or (chat.get("dialogId") if isinstance(chat, Mapping) else None)
        if named == dialog_id and message_id is not None:
            return message_id
    return None


def newest_recorded_post_in(bot: Bot, dialog_id: str, *, above: int | None = None) -> int | None:
    """The newest post of the bot's own in `dialog_id` (above message id `above`) that the ledger recorded
    (skills/context.py _post_once keeps where each went; the ledger, in ActionRecord's posted_in and
    posted_message_id): one row of their index, however many records the bot made since.
    An earlier event's handling may have posted there after the message this handling answers (a dialog's
    first command, greeted on JOIN_CHAT first): that post is in the chat before this handling's, and a
    post's doubt judged against the older message alone read the bot's own greeting as the post arrived.
    (The newest 50 of the bot's records were read and their results looked through in Python: a dialog's
    greeting behind a busy bot's 50 later actions elsewhere was missed.)"""
    posts = ActionRecord.objects.filter(bot=bot, posted_in=dialog_id, posted_message_id__gt=above or 0)
    return posts.order_by("-posted_message_id").values_list("posted_message_id", flat=True).first()


def newest_known_message_in(bot: Bot, dialog_id: str, *, above: int | None = None) -> int | None:
    """The newest message the backend knows is in `dialog_id` (above `above`): a person's it stored or a post
    of the bot's own it recorded; the mark a post's doubt is judged against (skills/context.py _post_once)."""
    known = [
        newest_stored_message_in(bot, dialog_id, above=above),
        newest_recorded_post_in(bot, dialog_id, above=above),
    ]
    return max((message_id for message_id in known if message_id is not None), default=None)


# The bot's latest message events read for the estimate, received within CLOCK_SAMPLE_AGE: a clock moves
# slowly, and one set right again stops counting within the day.
CLOCK_SAMPLE_SIZE = 100
CLOCK_SAMPLE_AGE = timedelta(days=1)
# Past these an event says nothing of the clock and is left out: a date an hour ahead of its receipt means
# something else than a drift, and an event received ten minutes after its date was held up (the platform or
# the poller down, the bot paused), however the clocks stand.
CLOCK_MOST_LEAD = timedelta(hours=1)
CLOCK_MOST_LAG = timedelta(minutes=10)
# A clock behind ours looks like slow delivery: it is believed past the time an idle bot waits for its next
# poll (BOTCORE_POLL_SLOW_SECONDS) and this margin, and from this many events, never from one.
CLOCK_DELIVERY_MARGIN = timedelta(seconds=5)
CLOCK_LEAST_SAMPLES = 3


def estimate_platform_clock_lead(bot: Bot) -> timedelta:
    """How far the platform's clock (the portal's, which dates its messages) runs ahead of ours, negative when
    behind; zero when the bot's events cannot tell.

    Each message event is dated by the platform when it was written and received by us a delivery later:
    its date less our time of receipt is the platform's lead less that delivery, so the largest over the
    bot's recent events is the lead less the quickest delivery among them (a second, polling a busy bot).
    An event dated after we received it can only be the clock (it is believed from one event); one dated
    before may be a slow delivery as well, so a clock behind ours is believed only past what an idle bot's
    delivery takes, seen over several events. Reading a platform time on our clock subtracts the lead.
    """
    since = timezone.now() - CLOCK_SAMPLE_AGE
    recent = (
        EventLogEntry.objects.filter(
            bot=bot, message_id__isnull=False, occurred_at__isnull=False, received_at__gte=since
        )
        .order_by("-message_id")  # the (bot, message_id) index: the newest messages first
        .values_list("occurred_at", "received_at")[:CLOCK_SAMPLE_SIZE]
    )
    spans = [occurred - received for occurred, received in recent if occurred is not None]
    leads = [lead for lead in spans if -CLOCK_MOST_LAG <= lead <= CLOCK_MOST_LEAD]
    if not leads:
        return timedelta(0)
    lead = max(leads)
    if lead > timedelta(0):
        return lead
    slow_delivery = timedelta(seconds=conf.poll_slow_seconds()) + CLOCK_DELIVERY_MARGIN
    if -lead > slow_delivery and len(leads) >= CLOCK_LEAST_SAMPLES:
        return lead
    return timedelta(0)


@dataclass(frozen=True)
class PortalSkill:
    """One configured skill as a portal has it."""

    skill: Skill
    is_enabled: bool
    options: dict[str, Any]
    is_customized: bool  # a SkillConfig row exists

    @property
    def name(self) -> str:
        return self.skill.name

    def __repr__(self) -> str:
        # An operator's shell echoes configure_skill's result: a Secret shows as set or not, never its value.
        secrets = self.skill.options_schema.secrets_set(self.options)
        shown = {**self.options, **dict.fromkeys(secrets, "<set>")}
        return (
            f"PortalSkill(skill={self.skill.name!r}, is_enabled={self.is_enabled!r}, options={shown!r}, "
            f"is_customized={self.is_customized!r})"
        )


def resolve_options(
    skill: Skill, stored: Mapping[str, Any] | None, secrets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """What the skill sees: its stored options, with its secrets (open_skill_secrets) in their place."""
    return skill.options_schema.resolve({**(stored or {}), **(secrets or {})})


def open_skill_secrets(portal_id: int, skills: Sequence[Skill]) -> dict[str, dict[str, str]]:
    """The portal's Secret options of these skills, decrypted, by skill name (no query when none declares
    one). One this process's keys cannot open is left out (the skill sees it empty) and logged."""
    named = [skill.name for skill in skills if skill.options_schema.secret_names()]
    if not named:
        return {}
    opened: dict[str, dict[str, str]] = {}
    for row in SkillSecret.objects.filter(portal_id=portal_id, skill_name__in=named):
        try:
            opened.setdefault(row.skill_name, {})[row.name] = secret = decrypt_secret(row.value.raw)
            note_secrets([secret])  # out of every log line and error report of this request or task
        except SecretDecryptionError:
            log.error(
                "skill secret unreadable portal=%s skill=%s option=%s: this process's VIBE_FERNET_KEYS "
                "cannot open it", portal_id, row.skill_name, row.name,
            )  # fmt: skip
    return opened


# Read for every message a cycle handles (skill_context.load_portal_skills).
_PORTAL_CONFIGS = CompiledRead(lambda portal_id: SkillConfig.objects.filter(portal_id=portal_id))


def _configs(portal_id: int) -> dict[str, SkillConfig]:
    return {config.skill_name: config for config in _PORTAL_CONFIGS.all(portal_id=portal_id)}


def list_portal_skills(portal: Portal | int) -> list[PortalSkill]:
    """Every configured skill in routing order, with this portal's switch and options (secrets opened)."""
    portal_id = portal if isinstance(portal, int) else portal.pk
    configs = _configs(portal_id)
    skills = configured_skills()
    secrets = open_skill_secrets(portal_id, skills)
    result = []
    for skill in skills:
        config = configs.get(skill.name)
        enabled = config.is_enabled if config is not None else skill.enabled_by_default
        options = resolve_options(skill, config.options if config else None, secrets.get(skill.name))
        result.append(PortalSkill(skill, enabled, options, config is not None))
    return result


def list_enabled_skills(portal: Portal | int) -> list[tuple[Skill, dict[str, Any]]]:
    """The portal's enabled skills in routing order, each with its resolved options."""
    return [(entry.skill, entry.options) for entry in list_portal_skills(portal) if entry.is_enabled]


def list_unknown_enabled_skill_names(portal: Portal) -> list[str]:
    """Skills switched on for `portal` that this process's BOTCORE_SKILLS does not name: a process started
    without the stack's list (a shell) would route as though they were not there."""
    known = {skill.name for skill in configured_skills()}
    names = SkillConfig.objects.filter(portal=portal, is_enabled=True).values_list("skill_name", flat=True)
    return sorted(name for name in names if name not in known)


def get_portal_skill(portal: Portal, skill_name: str) -> PortalSkill:
    for entry in list_portal_skills(portal):
        if entry.name == skill_name:
            return entry
    raise SkillConfigError(f"no configured skill named {skill_name!r}")


def task_stamp_free(field: str) -> Q:
    """Bots whose `field`, a stamp saying their task is queued or running, is empty or older than a stamp
    stands (conf.task_stamp_seconds: that task is taken to be lost): another may be queued."""
    stale = timezone.now() - timedelta(seconds=conf.task_stamp_seconds())
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": stale})


# How far back the portal page lists requests left in doubt: what an admin checking a chat can still act on.
LEFT_IN_DOUBT_LISTED_FOR = timedelta(days=7)


def list_left_in_doubt(portal: Portal, *, now: datetime, limit: int = 20) -> list[EventLogEntry]:
    """The portal's recent event log entries that left a post, chat or file in doubt, newest first: its own
    bots' only (event_doubt_idx)."""
    return list(
        EventLogEntry.objects.filter(
            ~Q(left_in_doubt=""), bot__portal=portal, received_at__gte=now - LEFT_IN_DOUBT_LISTED_FOR
        )
        .exclude(status=EventLogEntry.Status.RECEIVED)
        .order_by("-received_at", "-pk")[:limit]
    )
