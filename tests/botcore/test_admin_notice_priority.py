"""Every notice the backend sends a portal's admins goes behind every portal's replies on the key they share:
no one waits on it in a chat (the chats notice did so first; the others went at a reply's priority).

Counted where the client asks the app key's budget for each call (a recording budget, as the chats notice's
tests do), and where the platform recorded the message."""

from __future__ import annotations

import pytest

from botcore.models import SkillRun
from botcore.services import notices
from botcore.services.bots import provision_bot
from botcore.services.skill_runs import claim_run
from botcore.skills.registry import find_skill
from botcore.vibe.budget import Priority

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def asked(record_priorities) -> list[Priority]:
    """The priority of each call a notice's client asks the budget for."""
    return record_priorities(notices)


def test_the_session_expiry_warning_is_sent_behind_every_portal_s_replies(sandbox_portal, asked):
    """From an attacker trial: an operator's reminder (or a portal's token expiring) sent the warning, and
    read the portal's directory for its admins' languages, at a reply's priority on the shared key."""
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    delivery = notices.send_expiry_warning(
        sp.portal,
        admin_user_ids=[sp.admin_id],
        open_url="http://gateway.example/app",
        expires_at="2030-03-04T03:00:00+00:00",
    )
    assert delivery.told == 1
    assert sum("expires soon" in m["text"] for m in sp.bot_messages(bot.vibe_bot_id)) == 1
    assert asked and set(asked) == {Priority.RUN}, asked


def test_a_failed_run_s_notice_is_sent_behind_every_portal_s_replies(sandbox_portal, asked):
    """A schedule firing for every portal at once (a standup at 09:00 meeting the same outage everywhere)
    sent each portal's failed-run notice at a reply's priority, level with every portal's answers."""
    sp = sandbox_portal
    bot = provision_bot(sp.portal)
    at = "2030-03-04T03:00:00+00:00"
    run = claim_run(
        portal_id=sp.portal.pk,
        skill_name="echo",
        kind=SkillRun.Kind.SCHEDULED,
        run_key=f"schedule:echo:{at}",
        payload={"schedule": "echo", "due_at": at, "local_due_at": at},
    )
    assert notices.tell_admins_of_failed_run(run, find_skill("echo"), cause=None) == 1
    assert sum("did not run as planned" in m["text"] for m in sp.bot_messages(bot.vibe_bot_id)) == 1
    assert asked and set(asked) == {Priority.RUN}, asked
