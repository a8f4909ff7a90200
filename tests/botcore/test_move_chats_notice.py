"""A move to a new platform bot (the app key rotated, or a personal key given) tells the portal's admins, once
and unasked, which group chats to add the new bot to: the platform's Chat.User.add takes no bot, so only a
portal user can. Before, they learnt of each chat only from the first post the platform refused in it.

Counted where the notices are posted: the sandbox's record of the new bot's POST /messages calls to each
admin's private dialog (a platform deduping a repeat would hide it from the dialog, never from the calls)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.tasks import async_task

from botcore.models import Bot, BotChat, EventLogEntry, SkillConfig
from botcore.services import chats_notice, notices
from botcore.services.bots import pause_bot, provision_bot, resume_bot
from botcore.services.platform import client_for_bot
from botcore.services.polling import poll_bot_once
from botcore.services.skill_schedules import sweep_schedules
from botcore.tasks import move_portal_bot, prune_event_log
from botcore.vibe.budget import Priority
from botcore.vibe.client import VibeClient
from botcore.vibe.errors import VibeBudgetTimeoutError
from tenants import services as tenant_services
from tenants.models import SessionGrant
from tenants.testing import store_sandbox_session
from tests.botcore.test_app_key_rotation import open_app
from tests.botcore.test_reliability import BOT_CODES, personal_key

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MARK = "is in none of the group chats"  # a phrase of the notice's English text


def notices_posted(sp, vibe_bot_id: int, user_id: int) -> list[str]:
    """The texts of the chats notice the platform bot was asked to post to `user_id`'s private dialog."""
    return [
        call["body"]["fields"]["message"]
        for call in sp.calls(vibe_bot_id)
        if call["method"] == "POST"
        and call["path"] == f"/v1/bots/{vibe_bot_id}/messages"
        and call["status"] in (200, 201)
        and str(call["body"].get("dialogId")) == str(user_id)
        and MARK in call["body"]["fields"]["message"]
    ]


def directory_calls(sp) -> list[dict]:
    """GET /v1/users calls: how a notice learns each admin's language."""
    return sp.control.get("/_sandbox/calls", params={"path": "/v1/users"}).json()["data"]["calls"]


def told_every_admin_known(bot: Bot) -> bool:
    """Whether the bot's notice is due no more: kept, unswept, only for an admin who opens the app later."""
    row = Bot.objects.get(pk=bot.pk)
    return row.chats_notice_due_at is None and bool((row.chats_notice or {}).get("told_at"))


def group_chat(sp, bot: Bot, title: str) -> str:
    """A portal user makes a group chat with the bot in it; the bot hears it joined. Its dialog id."""
    created = sp.control.post(
        "/_sandbox/act/chats",
        json={"userId": sp.admin_id, "title": title, "memberIds": [sp.member_id, bot.vibe_bot_id]},
    )
    return created.json()["data"]["chat"]["dialogId"]


def rename_chat(sandbox, dialog_id: str, title: str) -> None:
    """Someone renames the chat in Bitrix24 (no event reaches the bot)."""
    chat_id = int(dialog_id.removeprefix("chat"))
    sandbox.run_in_loop(lambda services: setattr(services.platform.chats[chat_id], "title", title))


def rotate_app_key(sp, settings) -> str:
    """The vendor rotates the app key; the backend restarts with both. The new key."""
    second = sp.control.post("/_sandbox/apps/keys", json={"appKey": sp.app_key}).json()["data"]["key"]
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = second, sp.app_key
    return second


def old_bot_in_two_chats(sp, sandbox, settings) -> tuple[Bot, str, str]:
    """The portal's bot in two group chats, the standup posting to one; a member talks to it in private too.
    The second chat was renamed since the bot last heard of it."""
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    settings.BOTCORE_SKILLS = ["botcore.skills.builtin.standup.StandupSkill"]
    bot = provision_bot(sp.portal)
    standup_chat = group_chat(sp, bot, "Team standup")
    other_chat = group_chat(sp, bot, "Sales")
    sp.say(user_id=sp.member_id, bot_id=bot.vibe_bot_id, text="hello in private")
    poll_bot_once(bot.pk)
    rename_chat(sandbox, other_chat, "Sales and support")
    SkillConfig.objects.update_or_create(
        portal=sp.portal,
        skill_name="standup",
        defaults={"is_enabled": True, "options": {"chat": standup_chat}},
    )
    return bot, standup_chat, other_chat


# `wrapped-bitrix-errors`: the chat the old bot left answers "ACCESS_DENIED: …" inside a 502 BITRIX_ERROR,
# which was read as the platform failing: the look-ups stopped, and the chat it left was listed too.
@pytest.mark.parametrize("dialect", [*BOT_CODES, "wrapped-bitrix-errors"])
def test_a_rotated_key_s_new_bot_is_named_the_old_bot_s_group_chats_once(
    sandbox_portal, sandbox, settings, task_queue, dialect
):
    sp = sandbox_portal
    sp.speak(*filter(None, [dialect]))
    bot, standup_chat, _ = old_bot_in_two_chats(sp, sandbox, settings)
    old_bot = bot.vibe_bot_id
    left = group_chat(sp, bot, "Left behind")  # a chat the old bot has left since: nobody adds the new one
    client_for_bot(bot).leave_chat(old_bot, left)

    second_key = rotate_app_key(sp, settings)
    open_app(sp, app_key=second_key)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error

    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    # Each chat by the name the old bot sees now, with a link that opens it; the standup's chat first.
    assert notice.index("Team standup") < notice.index("Sales and support")
    assert f"[CHAT={standup_chat.removeprefix('chat')}]" in notice.upper()
    assert "add it to each" in notice and "Sales]" not in notice
    # The two group chats alone: not the one it left, nor the member's private dialog.
    assert notice.count("\n• ") == 2 and "Left behind" not in notice
    assert notices_posted(sp, bot.vibe_bot_id, sp.member_id) == []  # a member is not the one to add it
    assert notices_posted(sp, old_bot, sp.admin_id) == []  # from the bot that stays, not the one that went

    # The move again (its task re-run, an operator's re-provision) and the minute sweeps: nothing more.
    async_task("botcore.tasks.move_portal_bot", sp.portal.pk)
    task_queue.run()
    provision_bot(sp.portal)
    sweep_schedules()
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1
    # One bot of ours on the platform, the new one, with the standup's commands (under a derived code where
    # the old bot held ours while the new one was registered).
    [(new_bot, commands)] = [(b["id"], b["commands"]) for b in sp.portal_bots()]
    assert new_bot == bot.vibe_bot_id and commands


@pytest.mark.parametrize("dialect", [None, "wrapped-bitrix-errors"])
def test_a_chat_gone_from_the_portal_is_not_named_to_the_new_bot(
    sandbox_portal, sandbox, settings, task_queue, dialect
):
    """A group chat deleted in Bitrix24 (no event reaches the bot) answers CHAT_NOT_FOUND to the old bot's
    look-up: nothing to add the new bot to. `wrapped-bitrix-errors` says it inside a 502 BITRIX_ERROR, which
    the look-up read by its 404 alone took for the platform refusing every look: it stopped asking, and the
    gone chat was listed."""
    sp = sandbox_portal
    sp.speak(*filter(None, [dialect]))
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    gone = int(group_chat(sp, bot, "Closed project").removeprefix("chat"))
    poll_bot_once(bot.pk)
    sandbox.run_in_loop(lambda services: services.platform.chats.pop(gone))
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    assert "Closed project" not in notice and "Sales and support" in notice, notice


def admin_with_session(sp) -> int:
    """A second admin of the portal, whose session tenants keeps (as their visit left it)."""
    made = sp.control.post(
        f"/_sandbox/portals/{sp.sandbox_portal_id}/users",
        json={"name": "Anna Admin", "isAdmin": True},
    ).json()["data"]["user"]
    session = sp.control.post("/_sandbox/sessions", json={"appKey": sp.app_key, "userId": made["id"]})
    listed = sp.control.get("/_sandbox/portals").json()["data"]["portals"]
    portal = next(p for p in listed if p["id"] == sp.sandbox_portal_id)
    store_sandbox_session(portal=portal, user=made, session=session.json()["data"])
    return made["id"]


def test_a_move_whose_worker_dies_while_telling_the_admins_tells_each_once(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    """The move's worker is killed after the first admin was told: the minute sweep tells the other, and
    nobody twice."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    second_admin = admin_with_session(sp)
    old_bot = bot.vibe_bot_id

    sent = VibeClient.send_message
    told: list[str] = []

    def dies_at_the_second(self, bot_id, *, dialog_id, **kwargs):
        if told:
            raise SystemExit("the worker was killed")
        told.append(dialog_id)
        return sent(self, bot_id, dialog_id=dialog_id, **kwargs)

    monkeypatch.setattr(VibeClient, "send_message", dies_at_the_second)
    second_key = rotate_app_key(sp, settings)
    open_app(sp, app_key=second_key)
    with pytest.raises(SystemExit):
        move_portal_bot(sp.portal.pk)
    monkeypatch.setattr(VibeClient, "send_message", sent)
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot

    # The move again, then the sweep once the notice is due.
    move_portal_bot(sp.portal.pk)
    Bot.objects.filter(pk=bot.pk).update(chats_notice_due_at=timezone.now() - timedelta(seconds=1))
    sweep_schedules()
    sweep_schedules()
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1
    assert len(notices_posted(sp, bot.vibe_bot_id, second_admin)) == 1
    assert told_every_admin_known(bot)


def test_a_portal_with_more_chats_than_a_notice_lists_is_told_how_many_more(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    sp = sandbox_portal
    monkeypatch.setattr(chats_notice, "MAX_LISTED_CHATS", 1)
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    group_chat(sp, bot, "Third")
    poll_bot_once(bot.pk)
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    # The standup's chat first; the two others the old bot was seen in, counted.
    assert "Team standup" in notice and "Third" not in notice and "Sales" not in notice
    assert notice.endswith("\n… and 2 more group chats the old bot was seen in.")


def test_a_move_s_chat_look_ups_wait_behind_every_portal_s_replies(
    sandbox_portal, sandbox, settings, record_priorities
):
    """From an attacker trial: the look-ups a move makes for the chats notice (up to 40 Chat.get per move, on
    the key every portal of the app key shares, and a rotated key moves them all at once; a portal admin
    giving and removing a personal key moves it each time) were asked at a reply's priority, level with every
    portal's answers to people, where the registration beside them waits as setting a bot up."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    asked = record_priorities(chats_notice)
    facts = chats_notice.collect_old_bot_chats(bot)
    assert facts is not None and len(facts["chats"]) == 2
    assert asked and set(asked) == {Priority.SETUP}


def test_a_move_s_chats_notice_is_sent_behind_every_portal_s_replies(
    sandbox_portal, sandbox, settings, task_queue, record_priorities
):
    """From an attacker trial: a rotated app key moves every portal at once, and each move's notice went to
    each of its admins (and read the portal's directory for their languages) at a reply's priority, on the
    key every portal shares. No one waits on it in a chat: it goes as a skill run's posts do."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    asked = record_priorities(chats_notice, notices)  # the move's look-ups, and the notice's (notice_client)
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1
    assert Priority.REPLY not in asked and Priority.RUN in asked, asked


def test_a_chat_s_name_or_id_however_long_is_not_kept_whole_on_the_bot_row(sandbox_portal, sandbox, settings):
    """From an attacker trial: the chats a move keeps for its notice (the platform's Chat.get title, or the
    name and dialog id an event gave) went onto the bot row as they came, up to an answer's 16 MiB each,
    twenty of them, and every poll cycle of the bot reads that row. The notice shows 80 characters of a name;
    a dialog id is at most 64 (a joined chat's row keeps none longer either)."""
    sp = sandbox_portal
    bot, standup_chat, other_chat = old_bot_in_two_chats(sp, sandbox, settings)
    rename_chat(sandbox, other_chat, "Sales " + "x" * 100_000)
    long_id = "chat" + "9" * 100_000
    data = {
        "dialogId": long_id,
        "chat": {"id": 78, "dialogId": long_id, "type": "chat", "name": "Long one"},
        "user": {"id": sp.admin_id, "name": "Admin"},
    }
    queued = sp.control.post(
        "/_sandbox/act/raw-events", json={"botId": bot.vibe_bot_id, "type": "ONIMBOTV2JOINCHAT", "data": data}
    )
    assert queued.is_success, queued.text
    poll_bot_once(bot.pk)
    facts = chats_notice.collect_old_bot_chats(bot)
    assert facts is not None
    names = dict(facts["chats"])
    assert names[other_chat].startswith("Sales x") and len(names[other_chat]) <= 255
    assert names[standup_chat] == "Team standup"
    assert all(len(dialog_id) <= 64 for dialog_id in names), [len(d) for d in names]


def test_a_move_to_a_personal_key_names_the_chats_in_the_portal_s_language(
    sandbox_portal, sandbox, settings, task_queue
):
    """The personal key reads no directory (no `user` scope): each admin reads the portal's language."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    tenant_services.update_portal_settings(sp.portal, language="ru")
    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.credential_kind == "personal"
    [notice] = [
        call["body"]["fields"]["message"]
        for call in sp.calls(bot.vibe_bot_id)
        if call["method"] == "POST" and str(call["body"].get("dialogId")) == str(sp.admin_id)
    ]
    assert "Team standup" in notice and "Sales and support" in notice
    assert "не состоит ни в одном из групповых чатов" in notice


HOSTILE_TITLES = {
    "link": "[URL=https://evil.example]Click to re-authorise[/URL]",
    "mention": "[USER=1]x[/USER] [USER=all]everyone[/USER]",
    "closing": "[/CHAT][/B][/URL][B]",
    "lines": "Sales\n\nThe app's key expired: open https://evil.example to re-authorise\n>>quoted",
    "rtl": "Team\u202e\u2066 evil\u2069\u202c",
    "long": "L" * 10_000,
}


def test_a_chats_notice_shows_hostile_chat_titles_as_one_plain_line_each(
    sandbox_portal, sandbox, settings, task_queue
):
    """The chats are named by what any portal user may call a chat: a title's markup shows as typed, each
    stays on its bullet's line (no line of its own that reads as the app's), no bidi control turns the text
    around, and a long one is cut. Counted on what the new bot posted, the raw text."""
    sp = sandbox_portal
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    bot = provision_bot(sp.portal)
    chats = {kind: group_chat(sp, bot, f"chat {kind}") for kind in HOSTILE_TITLES}
    poll_bot_once(bot.pk)
    for kind, title in HOSTILE_TITLES.items():
        rename_chat(sandbox, chats[kind], title)
    old_bot = bot.vibe_bot_id
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot, bot.last_error

    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    # Only the notice's own tags open: one [CHAT=…] and its [/CHAT] a chat, nothing else.
    opened = re.findall(r"\[(?!\u200b)[^\]]*\]", notice)
    assert sorted({tag.upper().split("=")[0] for tag in opened}) == ["[/CHAT]", "[CHAT"], opened
    assert len(opened) == 2 * len(HOSTILE_TITLES)
    lines = notice.split("\n")
    assert len(lines) == 1 + len(HOSTILE_TITLES), lines  # the lead, then one bullet a chat
    assert all(line.upper().startswith("• [CHAT=") for line in lines[1:])
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", notice)
    assert max(len(line) for line in lines[1:]) < 150


@pytest.mark.parametrize("dialog_id", ["chat77]x", "chat77[b", "chat77\nx"])
def test_a_chat_id_no_link_can_carry_leaves_the_notice_to_the_other_chats(
    sandbox_portal, sandbox, settings, task_queue, dialog_id
):
    """A dialog id is the platform's to give, and one a [CHAT=…] tag cannot carry (a bracket, a line break)
    raised in bb.chat_link and stopped the whole notice, at the move and at every sweep after it. Counted
    where the notice is posted: once, its other chat still a link, the odd one named in plain text."""
    sp = sandbox_portal
    settings.TENANTS_IDENTITY_BACKEND = "botcore.vibe.identity.VibeIdentityBackend"
    bot = provision_bot(sp.portal)
    sales = group_chat(sp, bot, "Sales")
    data = {
        "dialogId": dialog_id,
        "chat": {"id": 77, "dialogId": dialog_id, "type": "chat", "name": "Odd one"},
        "user": {"id": sp.admin_id, "name": "Admin"},
    }
    queued = sp.control.post(
        "/_sandbox/act/raw-events",
        json={"botId": bot.vibe_bot_id, "type": "ONIMBOTV2JOINCHAT", "data": data},
    )
    assert queued.is_success, queued.text
    poll_bot_once(bot.pk)
    old_bot = bot.vibe_bot_id
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    sweep_schedules()
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot, bot.last_error

    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    assert f"[CHAT={sales.removeprefix('chat')}]SALES[/CHAT]" in notice.upper()
    lines = notice.split("\n")
    assert len(lines) == 3, lines  # the lead, then one bullet a chat
    odd = next(line for line in lines[1:] if "Odd one" in line)
    assert re.findall(r"\[(?!\u200b)", odd) == []  # no tag opens on it: plain text
    assert told_every_admin_known(bot)  # not owed for ever


def test_the_chats_counted_past_the_listed_ones_leave_out_those_the_old_bot_has_left(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    """The platform sends no event when a bot leaves or is removed from a chat (ONIMBOTV2DELETE is the bot's
    own end), so the events cannot tell it: the platform is asked, for the counted chats as for the listed
    ones while the move's look-ups last. Before, "and N more" counted every chat the old bot was seen in."""
    sp = sandbox_portal
    monkeypatch.setattr(chats_notice, "MAX_LISTED_CHATS", 1)
    bot, _, sales = old_bot_in_two_chats(sp, sandbox, settings)
    third = group_chat(sp, bot, "Third")
    group_chat(sp, bot, "Fourth")
    poll_bot_once(bot.pk)
    old = client_for_bot(bot)
    old.leave_chat(bot.vibe_bot_id, third)  # its members took it out (no event either way)
    old.leave_chat(bot.vibe_bot_id, sales)
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    # The standup's chat listed; of the three others only "Fourth" still has the old bot: one more.
    assert "Team standup" in notice and "Fourth" not in notice
    assert notice.endswith("\n… and 1 more group chat the old bot was seen in."), notice


def moved_with_no_admin_known(sp, sandbox, settings, task_queue) -> Bot:
    """The old bot in two chats moved to a personal key while no admin is known: the one who installed the
    app is one no more (tenants' role check said so), and the portal's new admin has not opened the app."""
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    SessionGrant.objects.filter(portal=sp.portal).update(is_admin=False)
    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    return bot


def test_a_notice_no_admin_can_be_told_yet_waits_for_an_admin_s_visit_and_goes_to_them_once(
    sandbox_portal, sandbox, settings, task_queue
):
    """The notice goes to the admins tenants knows: those who opened the app (a stored session). The platform
    names no portal's admins to a bot (its reference has no such call; a personal key reads no directory),
    so when none is known the notice waits, and an admin's first visit sends it. Before, it was dropped."""
    sp = sandbox_portal
    bot = moved_with_no_admin_known(sp, sandbox, settings, task_queue)
    assert bot.credential_kind == "personal", bot.last_error
    Bot.objects.filter(pk=bot.pk).update(chats_notice_due_at=timezone.now() - timedelta(seconds=1))
    sweep_schedules()
    posted = [
        c for c in sp.calls(bot.vibe_bot_id) if c["path"].endswith("/messages") and c["method"] == "POST"
    ]
    assert posted == []  # nobody to tell: not the member, not the one who is no admin now
    assert Bot.objects.get(pk=bot.pk).chats_notice is not None  # kept, not dropped

    new_admin = admin_with_session(sp)  # the new admin opens the app
    sweep_schedules()
    sweep_schedules()
    [notice] = notices_posted(sp, bot.vibe_bot_id, new_admin)
    assert "Team standup" in notice and "Sales and support" in notice
    assert notices_posted(sp, bot.vibe_bot_id, sp.admin_id) == []
    assert told_every_admin_known(bot)


def test_a_bot_the_platform_forgot_is_registered_anew_and_its_admins_told_the_old_one_s_chats(
    sandbox_portal, sandbox, settings, task_queue
):
    """A bot awaiting a new platform bot (PENDING) had one that answered in chats until the platform forgot
    it (deleted there, or the app installed again on the platform while the portal waited for a session):
    that bot is out of every chat, and the new one is in none. Before, no notice: PENDING was read as a
    bot that never had chats."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    old_bot = bot.vibe_bot_id
    client_for_bot(bot).delete_bot(old_bot)  # gone on the platform: the next cycle has it registered anew
    assert poll_bot_once(bot.pk).status == "reprovision"
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.PENDING
    task_queue.run("botcore.tasks.provision_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    # Under the names its events gave: the old bot can no longer ask the platform for them.
    assert notice.index("Team standup") < notice.index("Sales") and notice.count("\n• ") == 2
    provision_bot(sp.portal)
    sweep_schedules()
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1


def test_a_portal_that_installs_the_app_again_is_not_told_the_chats_its_uninstall_took_the_bot_out_of(
    sandbox_portal, sandbox, settings, task_queue
):
    """The other bot awaiting a new platform bot (PENDING) with an old one: its portal uninstalled the app,
    which unregistered the bot on purpose (out of every chat), and installed it again. Which chats to add the
    new bot to is the admins' new setup, not a move's loss: no notice."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    old_bot = bot.vibe_bot_id
    tenant_services.uninstall_portal(sp.portal, reason="admin")
    task_queue.purge()
    sp.open_app()  # the admin opens the app again: installed anew
    task_queue.run("botcore.tasks.provision_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.ACTIVE, bot.last_error
    sweep_schedules()
    assert notices_posted(sp, bot.vibe_bot_id, sp.admin_id) == []
    assert bot.chats_notice is None


def test_a_chat_the_old_bot_joined_before_the_event_log_kept_is_listed_too(
    sandbox_portal, sandbox, settings, task_queue
):
    """The event log keeps 14 days (BOTCORE_EVENT_LOG_RETENTION_DAYS) and the move reads its newest 20,000
    events: a quiet chat the old bot was added to before either was missed. The chats each platform bot joins
    are kept apart, as its events are stored."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)  # "Sales" joined, then renamed: quiet since
    EventLogEntry.objects.filter(bot=bot).update(received_at=timezone.now() - timedelta(days=15))
    assert prune_event_log() > 0
    group_chat(sp, bot, "Recent")
    poll_bot_once(bot.pk)
    old_bot = bot.vibe_bot_id
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    assert notice.count("\n• ") == 3, notice
    assert notice.index("Team standup") < notice.index("Recent") < notice.index("Sales and support")
    assert not BotChat.objects.filter(vibe_bot_id=old_bot).exists()  # read by the move, then dropped


def test_a_notice_that_waited_days_for_an_admin_has_its_day_of_tries_from_their_visit(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    """A notice sent after a passing failure is tried again for a day (NOTICE_TRIED_FOR): counted from the
    move, one that waited three days for an admin was given up at the first refusal of the platform."""
    sp = sandbox_portal
    bot = moved_with_no_admin_known(sp, sandbox, settings, task_queue)
    three_days_ago = (timezone.now() - timedelta(days=3)).isoformat()
    Bot.objects.filter(pk=bot.pk).update(chats_notice=bot.chats_notice | {"moved_at": three_days_ago})

    sent = VibeClient.send_message

    def rate_limited(self, *args, **kwargs):
        raise VibeBudgetTimeoutError(status=429, code="RATE_LIMITED", message="the key's budget is spent")

    monkeypatch.setattr(VibeClient, "send_message", rate_limited)
    new_admin = admin_with_session(sp)  # the admin's visit, three days on
    sweep_schedules()  # the platform refuses it for now
    assert Bot.objects.get(pk=bot.pk).chats_notice is not None  # tried again, not given up

    monkeypatch.setattr(VibeClient, "send_message", sent)
    Bot.objects.filter(pk=bot.pk).update(chats_notice_due_at=timezone.now() - timedelta(seconds=1))
    sweep_schedules()
    assert len(notices_posted(sp, bot.vibe_bot_id, new_admin)) == 1


def days_on(bot: Bot, days: int) -> None:
    """The move was `days` ago, and the notice is due at the minute sweep."""
    moved_at = (timezone.now() - timedelta(days=days)).isoformat()
    facts = Bot.objects.get(pk=bot.pk).chats_notice
    Bot.objects.filter(pk=bot.pk).update(
        chats_notice=facts | {"moved_at": moved_at}, chats_notice_due_at=timezone.now() - timedelta(seconds=1)
    )


def test_a_paused_bot_s_notice_waits_for_its_resume_however_long(
    sandbox_portal, sandbox, settings, task_queue
):
    """A bot an operator paused moves too, and sends nothing while paused. Its notice was tried for a day from
    the move, as one the platform refused for a while is, and then given up: resumed three days on, its
    admins were told of no chat. It waits, as one with no admin to tell does, and the resume sends it."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    old_bot = bot.vibe_bot_id
    pause_bot(bot, operator="ops")
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.vibe_bot_id != old_bot and bot.status == Bot.Status.PAUSED, bot.last_error
    days_on(bot, 3)
    sweep_schedules()
    assert notices_posted(sp, bot.vibe_bot_id, sp.admin_id) == []  # paused: it sends nothing
    assert Bot.objects.get(pk=bot.pk).chats_notice is not None  # kept, not given up

    resume_bot(Bot.objects.get(pk=bot.pk), operator="ops")
    sweep_schedules()
    sweep_schedules()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    assert "Team standup" in notice and "Sales and support" in notice


def test_a_notice_the_bot_has_no_credential_to_send_waits_for_a_visit_however_long(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    """The platform refused the notice for a while, then the portal's sessions all ended (nobody opened the
    app for days). Tried for a day from the move, it was given up before anyone came back; it waits for the
    visit that brings a credential, and goes then."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    sent = VibeClient.send_message

    def rate_limited(self, *args, **kwargs):
        raise VibeBudgetTimeoutError(status=429, code="RATE_LIMITED", message="the key's budget is spent")

    monkeypatch.setattr(VibeClient, "send_message", rate_limited)
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.chats_notice is not None and bot.chats_notice_due_at is not None  # tried again later
    monkeypatch.setattr(VibeClient, "send_message", sent)

    SessionGrant.objects.filter(portal=sp.portal).update(invalidated_at=timezone.now())  # no session left
    days_on(bot, 3)
    sweep_schedules()
    assert Bot.objects.get(pk=bot.pk).chats_notice is not None  # kept, not given up

    open_app(sp, app_key=settings.VIBE_APP_KEY)  # the admin comes back
    sweep_schedules()
    sweep_schedules()
    [notice] = notices_posted(sp, bot.vibe_bot_id, sp.admin_id)
    assert "Team standup" in notice and "Sales and support" in notice


def test_an_admin_who_opens_the_app_after_another_was_told_is_told_too(
    sandbox_portal, sandbox, settings, task_queue, monkeypatch
):
    """The admins told are those the backend knows (a stored session): an admin who had not opened the app
    was never told while another had, though the first visit tells them who the portal's admins are. The
    notice is kept, unswept, for NOTICE_KEPT_FOR after its admins were told, and an admin's first visit in it
    sends it to them: once each, and nobody twice."""
    sp = sandbox_portal
    bot, _, _ = old_bot_in_two_chats(sp, sandbox, settings)
    open_app(sp, app_key=rotate_app_key(sp, settings))
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1
    assert bot.chats_notice_due_at is None  # not swept: every admin known was told

    second_admin = admin_with_session(sp)  # an admin of the portal opens the app for the first time
    sweep_schedules()
    sweep_schedules()
    [notice] = notices_posted(sp, bot.vibe_bot_id, second_admin)
    assert "Team standup" in notice and "Sales and support" in notice
    open_app(sp, app_key=settings.VIBE_APP_KEY)  # visits again: nobody is told twice
    asked = len(sp.calls(bot.vibe_bot_id)), len(directory_calls(sp))
    sweep_schedules()
    assert (len(sp.calls(bot.vibe_bot_id)), len(directory_calls(sp))) == asked  # nor the platform asked
    assert len(notices_posted(sp, bot.vibe_bot_id, sp.admin_id)) == 1
    assert len(notices_posted(sp, bot.vibe_bot_id, second_admin)) == 1

    told_at = timezone.now() - chats_notice.NOTICE_KEPT_FOR - timedelta(minutes=1)
    facts = Bot.objects.get(pk=bot.pk).chats_notice
    Bot.objects.filter(pk=bot.pk).update(chats_notice=facts | {"told_at": told_at.isoformat()})
    third_admin = admin_with_session(sp)  # past it: an old move is no news
    sweep_schedules()
    assert notices_posted(sp, bot.vibe_bot_id, third_admin) == []
    assert Bot.objects.get(pk=bot.pk).chats_notice is None  # done with
