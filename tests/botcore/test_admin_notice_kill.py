"""A notice to a portal's admins is not told twice when the worker sending it dies after the platform posted
it: the action ledger kept it once, but was written only after the send came back, so the next sweep (a
failed run's, a move's, the expiry warning's occasion) found no record and told the admin again.

Counted where the platform recorded the message."""

from __future__ import annotations

import pytest

from botcore.services import notices
from botcore.services.bots import provision_bot
from botcore.vibe import VibeClient

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sent(sp, bot, text: str) -> int:
    return sum(m["text"] == text for m in sp.bot_messages(bot.vibe_bot_id))


def test_a_notice_whose_worker_died_after_the_platform_posted_it_is_not_sent_again(sandbox_portal):
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    client = notices.notice_client(bot)
    real = VibeClient.send_message

    def posted_then_killed(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise SystemExit("worker killed")  # as SIGKILL there: nothing after the platform's answer runs

    def send_once():
        return notices.send_to_each(
            bot, client, [sp.admin_id], "the notice", what="test notice", once_key=lambda user: f"t:{user}"
        )

    with pytest.MonkeyPatch.context() as killed:
        killed.setattr(VibeClient, "send_message", posted_then_killed)
        with pytest.raises(SystemExit):
            send_once()
    assert sent(sp, bot, "the notice") == 1
    assert send_once() == notices.Delivery(0, 0)  # the dialog shows it arrived: told, not sent again
    assert send_once() == notices.Delivery(0, 0)
    assert sent(sp, bot, "the notice") == 1


def test_a_notice_killed_before_it_left_is_sent_at_the_next_try(sandbox_portal):
    """The record written ahead says what the dialog showed as it left: unchanged, it never arrived."""
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    client = notices.notice_client(bot)

    def killed_before_it_left(self, *args, **kwargs):
        raise SystemExit("worker killed")

    def send_once():
        return notices.send_to_each(
            bot, client, [sp.admin_id], "the notice", what="test notice", once_key=lambda user: f"t:{user}"
        )

    with pytest.MonkeyPatch.context() as killed:
        killed.setattr(VibeClient, "send_message", killed_before_it_left)
        with pytest.raises(SystemExit):
            send_once()
    assert sent(sp, bot, "the notice") == 0
    assert send_once() == notices.Delivery(1, 0)
    assert send_once() == notices.Delivery(0, 0)
    assert sent(sp, bot, "the notice") == 1
