"""A worker killed between the platform making a chat, a file or a raw client post and our record of it.

The platform has no once-only key for a new chat or an upload (the reference names templateId for sends
only), and a post a skill makes through `ctx.client` carried none. Killed after the platform acted and before
the ledger's record, the next attempt made the chat, the file or the post again. Counted on the platform:
the chats, files and posts it holds, not what the backend believes.
"""

from __future__ import annotations

import httpx
import pytest

from botcore.models import ActionRecord, Bot, EventLogEntry
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from botcore.skills.base import Skill
from botcore.vibe import VibeClient
from botcore.vibe.events import EventType, MessageAddEvent
from tests.botcore.replying import ChatSkill, message_entry

pytestmark = [pytest.mark.slow]

READINGS = [
    pytest.param(None, id="dedupe"),
    pytest.param("no-template-dedupe", id="no-dedupe"),
    # a bot's own posts come back as events, and the chat's refusals come wrapped (the chat marks read both)
    pytest.param("no-template-dedupe,own-messages,wrapped-bitrix-errors", id="no-dedupe-own-wrapped"),
]


class RawChatSkill(Skill):
    """Makes its chat through the platform client itself, for a colour the context's create_chat has not."""

    name = "raw_chats"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.client.create_chat(
            ctx.bot_id, title=f"about {event.message.text}", user_ids=[event.user.id], color="mint"
        )


class UploadSkill(Skill):
    name = "uploads"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.upload_file(f"{event.message.text}.txt", b"the report")


class RawPostSkill(Skill):
    """Posts through the platform client itself, for a field the context's reply has no argument for."""

    name = "raw_posts"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        assert isinstance(event, MessageAddEvent)
        ctx.client.send_message(
            ctx.bot_id, dialog_id=ctx.dialog_id, text=f"raw: {event.message.text}", url_preview=False
        )


def bot_for(sandbox_portal, settings, skill: type[Skill], dialect: str | None) -> Bot:
    settings.BOTCORE_SKILLS = [f"{skill.__module__}.{skill.__name__}"]
    sandbox_portal.speak(*([dialect] if dialect else []))
    return provision_bot(sandbox_portal.portal)


def chats_titled(sandbox_portal, title: str) -> int:
    chats = sandbox_portal.control.get("/_sandbox/state").json()["data"]["chats"]
    return sum(1 for c in chats if c["title"] == title)


def files_named(sandbox_portal, bot: Bot, name: str) -> int:
    return sum(
        1 for m in sandbox_portal.bot_messages(bot.vibe_bot_id) for f in m["files"] if f["name"] == name
    )


def raw_posts(sandbox_portal, bot: Bot, text: str) -> int:
    return sum(1 for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"] == f"raw: {text}")


def kill_after(monkeypatch, method: str) -> None:
    """The platform answers `method`, and the worker dies before anything after that answer runs."""
    real = getattr(VibeClient, method)

    def done_then_killed(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise SystemExit("worker killed")  # as SIGKILL there: nothing after the platform's answer runs

    monkeypatch.setattr(VibeClient, method, done_then_killed)


def kill_as_it_leaves(monkeypatch, path_end: str) -> None:
    """The worker dies once the request is built and handed on, before a byte of it leaves."""
    real_send = httpx.Client.send

    def killed_as_it_leaves(self, request, **kwargs):
        if request.method == "POST" and request.url.path.endswith(path_end):
            raise SystemExit("worker killed")
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", killed_as_it_leaves)


def killed_then_retried(sandbox_portal, bot: Bot, text: str, kill) -> EventLogEntry:
    """`text` is said; the worker handling it is killed (`kill` arms it); a new worker handles it again."""
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    with pytest.MonkeyPatch.context() as killed:
        kill(killed)
        with pytest.raises(SystemExit):
            poll_bot_once(bot.pk)
    Bot.objects.filter(pk=bot.pk).update(lease_token="", lease_until=None)  # its lease died with it
    poll_bot_once(bot.pk)
    return message_entry(bot, text)


@pytest.mark.parametrize("skill", [ChatSkill, RawChatSkill], ids=["ctx", "ctx.client"])
@pytest.mark.parametrize("dialect", READINGS)
def test_a_worker_killed_after_the_platform_made_the_chat_does_not_make_it_twice(
    sandbox_portal, settings, dialect, skill
):
    """No chat of the bot's can be listed to find the first: the new chat is left in doubt, the event fails
    saying so (an operator sees it on the event's log entry), and no second chat is made."""
    bot = bot_for(sandbox_portal, settings, skill, dialect)
    entry = killed_then_retried(sandbox_portal, bot, "plans", lambda mp: kill_after(mp, "create_chat"))
    assert chats_titled(sandbox_portal, "about plans") == 1
    assert entry.status == EventLogEntry.Status.FAILED and "not done again" in entry.error


@pytest.mark.parametrize("dialect", READINGS)
def test_a_worker_killed_after_the_platform_took_the_upload_does_not_upload_twice(
    sandbox_portal, settings, dialect
):
    """The file arrived as the chat's newest message: the upload is in doubt and not made again."""
    bot = bot_for(sandbox_portal, settings, UploadSkill, dialect)
    entry = killed_then_retried(sandbox_portal, bot, "week", lambda mp: kill_after(mp, "upload_file"))
    assert files_named(sandbox_portal, bot, "week.txt") == 1
    assert entry.status == EventLogEntry.Status.FAILED and "not done again" in entry.error
    # The person is told to look for it, not asked to try again (which would upload it twice).
    said = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert [text for text in said if "the file I was sending may be there already" in text] == [said[-1]]


@pytest.mark.parametrize("dialect", READINGS)
def test_a_worker_killed_as_its_upload_was_leaving_uploads_once(sandbox_portal, settings, dialect):
    """The other side of writing an upload's doubt ahead: killed before its request left, the chat is
    unchanged and says it never arrived, so the next attempt uploads it, once."""
    bot = bot_for(sandbox_portal, settings, UploadSkill, dialect)
    entry = killed_then_retried(sandbox_portal, bot, "month", lambda mp: kill_as_it_leaves(mp, "/files"))
    assert files_named(sandbox_portal, bot, "month.txt") == 1
    assert entry.status == EventLogEntry.Status.HANDLED and entry.error == ""
    assert not ActionRecord.objects.filter(bot=bot, result__in_doubt=True).exists()


@pytest.mark.parametrize("dialect", READINGS)
def test_a_worker_killed_after_a_post_through_ctx_client_does_not_post_it_twice(
    sandbox_portal, settings, dialect
):
    """A post through `ctx.client` goes the context's once-only way: it carries the handling's templateId
    and its doubt is written ahead where a repeat would post again."""
    bot = bot_for(sandbox_portal, settings, RawPostSkill, dialect)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="first")
    poll_bot_once(bot.pk)  # the platform's answers show how it reads templateId
    assert raw_posts(sandbox_portal, bot, "first") == 1
    entry = killed_then_retried(sandbox_portal, bot, "second", lambda mp: kill_after(mp, "send_message"))
    assert raw_posts(sandbox_portal, bot, "second") == 1
    assert entry.status == EventLogEntry.Status.HANDLED
    [message] = [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"] == "raw: second"]
    assert message["urlPreview"] is False  # what the skill asked of the raw call still reaches the platform


def test_an_upload_the_platform_answered_it_failed_is_made_again_once(sandbox_portal, settings, doubts):
    """The platform's own error answer ends the call: the chat, read at once, shows the file never arrived, so
    the upload is not in doubt and the retry makes it, once (it was refused, final, before)."""
    bot = bot_for(sandbox_portal, settings, UploadSkill, None)
    path = "/v1/bots/{bot_id}/files"
    rule = {"method": "POST", "path": path, "errorRate": 1.0, "errorCode": "INTERNAL_ERROR"}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="year")
    poll_bot_once(bot.pk)
    entry = message_entry(bot, "year")
    assert entry.status == EventLogEntry.Status.RECEIVED and files_named(sandbox_portal, bot, "year.txt") == 0
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED and entry.error == ""
    assert files_named(sandbox_portal, bot, "year.txt") == 1
    assert doubts() == {("upload", "never_arrived"): 1}


# A success whose data is no object (the sandbox's garbage "json": a proxy's or a broken server's envelope
# around a list), answered before the platform acted: read as {}, a file or chat of id 0 was taken as made.
NO_OBJECT = {"method": "POST", "garbageRate": 1.0, "garbageKind": "json", "afterAction": False}


def test_an_upload_answered_with_data_of_no_object_is_made_once(sandbox_portal, settings):
    bot = bot_for(sandbox_portal, settings, UploadSkill, None)
    rule = {**NO_OBJECT, "path": "/v1/bots/{bot_id}/files"}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="month")
    poll_bot_once(bot.pk)
    entry = message_entry(bot, "month")
    assert (
        entry.status == EventLogEntry.Status.RECEIVED and files_named(sandbox_portal, bot, "month.txt") == 0
    )
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.HANDLED and entry.error == ""
    assert files_named(sandbox_portal, bot, "month.txt") == 1


def test_a_chat_answered_with_data_of_no_object_is_left_in_doubt_saying_so(sandbox_portal, settings):
    """No chat id 0 taken as made (the skill went on to say "made chat0"): the platform may have made the
    chat, and nothing the bot can read tells, so the handling fails saying so, its chat made at most once."""
    bot = bot_for(sandbox_portal, settings, ChatSkill, None)
    rule = {**NO_OBJECT, "path": "/v1/bots/{bot_id}/chats"}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="week")
    poll_bot_once(bot.pk)
    sandbox_portal.control.delete("/_sandbox/faults")
    entry = message_entry(bot, "week")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED and "not done again" in entry.error
    assert chats_titled(sandbox_portal, "about week") == 0
    assert not [m for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if m["text"].startswith("made chat")]


def test_an_upload_whose_answer_was_lost_is_not_made_again(sandbox_portal, settings, doubts):
    """Dropped after the platform took the file: the chat shows a newer message, the upload stays in doubt."""
    bot = bot_for(sandbox_portal, settings, UploadSkill, None)
    rule = {"method": "POST", "path": "/v1/bots/{bot_id}/files", "afterAction": True, "dropRate": 1.0}
    assert sandbox_portal.control.post("/_sandbox/faults", json=rule).is_success
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="day")
    poll_bot_once(bot.pk)
    entry = message_entry(bot, "day")
    sandbox_portal.control.delete("/_sandbox/faults")
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED and "not done again" in entry.error
    assert files_named(sandbox_portal, bot, "day.txt") == 1
    assert doubts() == {("upload", "in_doubt"): 1, ("upload", "refused"): 1}


def drop_the_posts_saying(monkeypatch, text: str) -> None:
    """Each send of `text` is cut off before the platform takes it, as a dropped connection is (the sandbox's
    faults strike every post alike; this one only the post after the action)."""
    real_send = httpx.Client.send

    def dropped(self, request, **kwargs):
        if (
            request.method == "POST"
            and request.url.path.endswith("/messages")
            and text in request.content.decode()
        ):
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", dropped)


class UploadThenReplySkill(Skill):
    """Uploads a file and says so in the same handling: the reply's send is the one that fails."""

    name = "upload_then_reply"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.upload_file(f"{event.message.text}.txt", b"the report")
        ctx.reply(f"done: {event.message.text}")


class RawUploadThenReplySkill(Skill):
    name = "raw_upload_then_reply"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.client.upload_file(
            ctx.bot_id, dialog_id=ctx.dialog_id, name=f"{event.message.text}.txt", content=b"the report"
        )
        ctx.reply(f"done: {event.message.text}")


class RawPostThenReplySkill(Skill):
    name = "raw_post_then_reply"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        ctx.client.send_message(ctx.bot_id, dialog_id=ctx.dialog_id, text=f"raw: {event.message.text}")
        ctx.reply(f"done: {event.message.text}")


class ChatThenSendSkill(Skill):
    """Makes a chat with a first message, then posts in it: the post's send is the one that fails."""

    name = "chat_then_send"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        text = event.message.text
        chat = ctx.create_chat(f"about {text}", user_ids=[event.user.id], message=f"welcome: {text}")
        ctx.send(chat.dialog_id, f"done: {text}")


@pytest.mark.parametrize(
    "skill",
    [UploadThenReplySkill, RawUploadThenReplySkill, RawPostThenReplySkill, ChatThenSendSkill],
    ids=["upload", "ctx.client-upload", "ctx.client-post", "new-chat"],
)
@pytest.mark.parametrize("dialect", READINGS[:2])
def test_a_post_after_an_upload_whose_send_never_arrived_is_sent_again_once(
    sandbox_portal, settings, dialect, skill
):
    """The upload's file message is the chat's newest when the post after it leaves: judged against the
    person's message instead, the post (dropped before the platform acted) looked as if it may have arrived
    and was left unsent, 0 times in the chat. Nothing has taught the platform's templateId reading yet, so the
    chat is not read as the post leaves: the handling's own upload must be known as the chat's newest."""
    bot = bot_for(sandbox_portal, settings, skill, dialect)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="plan")
    with pytest.MonkeyPatch.context() as dropped:
        drop_the_posts_saying(dropped, "done: plan")
        poll_bot_once(bot.pk)
    entry = message_entry(bot, "plan")
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.next_attempt_at is not None
    EventLogEntry.objects.filter(pk=entry.pk).update(next_attempt_at=None)
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    texts = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]
    assert texts.count("done: plan") == 1
    assert entry.status == EventLogEntry.Status.HANDLED and entry.error == ""
    # what came before the post was made once
    assert (
        files_named(sandbox_portal, bot, "plan.txt") + texts.count("raw: plan") + texts.count("welcome: plan")
        == 1
    )
