"""The chaos benchmark's commands: sent as a user types them, their answers counted where they are posted."""

from __future__ import annotations

import uuid

from benchmarks.chaos import send_message
from benchmarks.chaos_faults import Target
from benchmarks.chaos_report import command_answers_on_the_platform
from botcore.models import BotCommand
from botcore.services.bots import provision_bot
from botcore.services.platform import client_for_bot
from tests.botcore.conftest import sandbox_portal  # noqa: F401 (the fixture)


def test_a_command_answered_twice_counts_two_posts_and_one_never_answered_none(sandbox_portal, settings):  # noqa: F811
    """Counted by the posts the sandbox made, not by what its templateId dedupe would hide: under
    `no-template-dedupe` the same answer sent twice is two posts, and the count says so."""
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.help.HelpSkill"]
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    sp.control.post("/_sandbox/dialects", json={"dialects": "no-template-dedupe"}).raise_for_status()
    target = Target(member_id=sp.portal.member_id, bot_id=bot.vibe_bot_id, user_id=sp.admin_id)
    [answered] = send_message(sp.control, target, "/help", at=1.0)
    [unanswered] = send_message(sp.control, target, "/help", at=2.0)
    [message] = send_message(sp.control, target, "hello", at=3.0)
    assert (answered.command, unanswered.command, message.command) == ("help", "help", "")
    assert answered.message_id and answered.message_id != unanswered.message_id

    command_id = BotCommand.objects.get(bot=bot, command="help").vibe_command_id
    template_id = str(uuid.uuid4())
    with client_for_bot(bot) as client:
        for _ in range(2):
            client.answer_command(
                bot.vibe_bot_id,
                command_id,
                message_id=answered.message_id,
                dialog_id=str(sp.admin_id),
                text="Commands",
                template_id=template_id,
            )
    counts = command_answers_on_the_platform(sp.control, [answered, unanswered])
    assert (counts[answered.key], counts[unanswered.key]) == (2, 0)
