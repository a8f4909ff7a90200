"""Whether a post reached a chat, told by the chat's last message (the lastMessageId of GET the chat): read
before a post and again after it failed, it is the same only if nothing arrived. The skills' context (a reply
or a post in doubt) and the bot's notices (a renewal warning in doubt) ask it here, one reading for both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botcore.vibe.errors import VibeApiError, VibeError, VibeServerError

if TYPE_CHECKING:
    from botcore.vibe.client import VibeClient


def no_dialog(error: VibeError) -> bool:
    """The platform's word that the bot has no dialog there yet (CHAT_NOT_FOUND): nothing was ever posted."""
    return isinstance(error, VibeApiError) and error.canonical_code == "CHAT_NOT_FOUND"


def chat_last_message(client: VibeClient, bot_id: int, dialog_id: str) -> tuple[int | None, VibeError | None]:
    """The chat's last message id (None where its answer names none), or the platform's refusal to read it. A
    passing failure of the read is raised: nothing is decided, the caller tries again later.

    Bitrix24's own error answer (BITRIX_ERROR) is a refusal: a platform may pass imbot.v2's CHAT_NOT_FOUND
    for a dialog never opened on so, and read as passing, every post to a person who never wrote to the bot
    waited for a read that never came (a standup asked nobody). One quoting the code is read as that code
    already (answers.py, passed_on_refusal); one quoting none leaves the chat unable to say, as any refusal.
    """
    try:
        return client.get_chat(bot_id, dialog_id).last_message_id, None
    except VibeError as error:
        if error.is_transient and not (isinstance(error, VibeServerError) and error.bitrix_answered):
            raise
        return None, error


def newest_on_platform(client: VibeClient, bot_id: int, dialog_id: str) -> int | None:
    """The chat's last message before a post: 0 where the bot has no dialog there yet, None where the chat
    cannot say. A passing failure of the read is raised."""
    newest, refusal = chat_last_message(client, bot_id, dialog_id)
    if refusal is not None:
        return 0 if no_dialog(refusal) else None
    return newest


def shows_never_arrived(
    client: VibeClient, bot_id: int, dialog_id: str, after: int | None
) -> tuple[bool, str]:
    """Whether a post surely never arrived, and why: the sender knew the chat's newest message when it sent
    (`after`; 0 where the bot had no dialog there), and the chat's last message is still that one. A later one
    may be the post, or someone writing since. A passing failure of the read is raised."""
    if after is None:
        return False, "the sender knew no earlier message in that chat to compare with"
    newest, refusal = chat_last_message(client, bot_id, dialog_id)
    if refusal is not None:
        if int(after) == 0 and no_dialog(refusal):
            return True, "the bot still has no dialog there: it never arrived"
        return False, f"the chat could not be read ({refusal})"
    if newest is None:
        return False, "the chat's answer does not say its last message (no lastMessageId)"
    if newest <= int(after):
        return True, f"the chat's last message is still {after}: it never arrived"
    return False, f"the chat's last message is {newest}, after {after}: the post or someone writing since"


def never_arrived_at_once(
    client: VibeClient, bot_id: int, dialog_id: str, after: int | None, error: VibeError
) -> bool:
    """Whether a write that failed just now (`error`) surely made nothing, read at once: only where the
    platform is done with the call (its own error answer, VibeError.call_is_over), since read later a person
    writing meanwhile leaves the chat unable to tell. False when the read fails (the write stays in doubt).
    A post's send (skills/posts_once.py) and an upload (skills/actions.py) ask it alike."""
    if not error.call_is_over:
        return False
    try:
        return shows_never_arrived(client, bot_id, dialog_id, after)[0]
    except VibeError:
        return False
