"""Builds the context a skill acts through, and picks the skill for a platform event (dispatch calls this)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django_q.exceptions import TimeoutException

from botcore.models import Bot
from botcore.selectors import estimate_platform_clock_lead, list_enabled_skills, newest_known_message_in
from botcore.services.action_ledger import DatabaseLedger, HandlingLedger, handling_keys
from botcore.services.conversation_state import DatabaseStateStore
from botcore.services.skill_runs import defer_job
from botcore.skills.base import Skill
from botcore.skills.context import PortalInfo, VibeSkillContext, post_key_for
from botcore.skills.events import SkillEvent
from botcore.skills.ledger import ActionLedger, MemoryLedger
from botcore.skills.routing import select_skill
from botcore.vibe import VibeClient
from botcore.vibe.errors import VibeError
from botcore.vibe.events import BotEvent
from tenants.models import Portal
from tenants.selectors import get_portal_preferences


def portal_info(portal: Portal) -> PortalInfo:
    prefs = get_portal_preferences(portal)
    return PortalInfo(
        member_id=portal.member_id, portal_id=portal.pk, language=prefs.language, timezone=prefs.timezone
    )


def make_context(
    *,
    portal: Portal,
    bot: Bot | None,
    client: VibeClient | None,
    skill: Skill,
    event: SkillEvent,
    options: Mapping[str, Any],
    enabled_skills: Sequence[Skill] = (),
    info: PortalInfo | None = None,
    came_to: int | None = None,
    ledger: ActionLedger | None = None,
) -> VibeSkillContext:
    """A context with database state, the bot's action ledger (`ledger`: one its handling shares, else the
    bot's own) and deferral through SkillRun rows.

    Without a bot or client (an uninstalled portal) the context still reads options and state; its
    platform methods raise PlatformUnavailableError.
    """
    if ledger is None:
        ledger = DatabaseLedger(bot_pk=bot.pk) if bot is not None else MemoryLedger()
    return VibeSkillContext(
        client=client if bot is not None else None,
        vibe_bot_id=bot.vibe_bot_id if bot is not None else None,
        portal=info or portal_info(portal),
        skill=skill,
        event=event,
        options=options,
        state_store=DatabaseStateStore(portal_id=portal.pk, skill_name=skill.name),
        ledger=ledger,
        deferrer=partial(defer_job, portal_id=portal.pk),
        enabled_skills=enabled_skills,
        clock_lead=partial(estimate_platform_clock_lead, bot) if bot is not None else None,
        newest_stored=partial(newest_known_message_in, bot) if bot is not None else None,
        came_to=came_to,
    )


@dataclass(frozen=True)
class PortalSkills:
    """A portal's enabled skills in routing order with their options, and the portal's preferences: read
    once per cycle and handed to every event of it."""

    skills: Sequence[tuple[Skill, Mapping[str, Any]]]
    info: PortalInfo


def load_portal_skills(portal: Portal) -> PortalSkills:
    return PortalSkills(skills=list_enabled_skills(portal), info=portal_info(portal))


def choose_skill(
    event: BotEvent,
    *,
    bot: Bot,
    client: VibeClient,
    portal_skills: PortalSkills,
    came_to: int | None = None,
    only: str | None = None,
) -> tuple[Skill | None, VibeSkillContext | None]:
    """The skill for `event` among the portal's enabled skills, and its context. `came_to`: the platform bot
    the event was polled from, which its handling's keys name (its log entry's vibe_bot_id). `only`: the
    enabled skill of that name and its context, not routed (None when it is not enabled): an apology for
    attempts stopped in its wants() must not run wants() again."""
    info = portal_skills.info
    enabled = [skill for skill, _ in portal_skills.skills]
    options = {skill.name: opts for skill, opts in portal_skills.skills}
    contexts: dict[str, VibeSkillContext] = {}
    # One ledger for every skill's context of this handling: their keys are the event's, not the skill's, and
    # a look-up answered from the handling's first read must see what any of them wrote (HandlingLedger).
    handling_key = post_key_for(vibe_bot_id=bot.vibe_bot_id, event=event, skill_name="", came_to=came_to)
    ledger = HandlingLedger(bot_pk=bot.pk, expected=handling_keys(handling_key))

    def context_for(skill: Skill) -> VibeSkillContext:
        if skill.name not in contexts:
            contexts[skill.name] = make_context(
                portal=bot.portal,
                bot=bot,
                client=client,
                skill=skill,
                event=event,
                options=options[skill.name],
                enabled_skills=enabled,
                info=info,
                came_to=came_to,
                ledger=ledger,
            )
        return contexts[skill.name]

    if only is not None:  # the skill named, without asking any wants()
        named = next((skill for skill in enabled if skill.name == only), None)
        return (named, context_for(named)) if named is not None else (None, None)

    guarded = [_GuardedWants(skill) for skill in enabled]
    chosen = select_skill(event, guarded, context_for=lambda g: context_for(g.skill), bot_id=bot.vibe_bot_id)
    if chosen is None:
        return None, None
    return (chosen if chosen.failure is not None else chosen.skill), context_for(chosen.skill)


class _GuardedWants:
    """A skill whose wants() raised is chosen, and its handle() re-raises: dispatch then stores the failure
    on the event as for any skill bug, and the bot goes on."""

    def __init__(self, skill: Skill) -> None:
        self.skill = skill
        self.failure: Exception | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.skill, name)

    def wants(self, event: BotEvent, ctx: VibeSkillContext) -> bool:
        try:
            return self.skill.wants(event, ctx)
        except TimeoutException as stopped:  # a SystemExit: the worker ends; the attempt is the skill's
            raise WantsStopped(self.skill.name, stopped) from stopped
        except VibeError:
            raise  # a platform trouble while deciding: the cycle backs off as for one while handling
        # A skill's failure in wants() is recorded on the run, as in handle().
        except Exception as error:  # noqa: BLE001
            self.failure = error
            return True

    def handle(self, event: BotEvent, ctx: VibeSkillContext) -> None:
        assert self.failure is not None
        raise self.failure


class WantsStopped(TimeoutException):
    """The task queue's timeout stopped a skill's wants() (an admin's pattern that backtracks for minutes):
    still django-q2's TimeoutException, which ends the worker, naming the skill whose attempt it was."""

    def __init__(self, skill_name: str, stopped: TimeoutException) -> None:
        super().__init__(*stopped.args)
        self.skill_name = skill_name
