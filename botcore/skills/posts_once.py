"""PostsOnce: a handling's posts, each made once however often it runs, or left in doubt if its send failed.

Mixed into VibeSkillContext: its reply, send and answer_command, and the posts a skill makes through
ctx.client (OnceOnlyClient), each keyed by the handling's next templateId (handling_keys) and remembered in
the ActionLedger once made. A post whose send failed after the platform may have taken it is sent again
only where that cannot show it twice, judged by its chat (_post_once). The context provides the ledger,
the client, the handling's key and its event; the chat actions (actions.ChatActions) number their keys and
mark their chats here too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from botcore.skills.actions import both_sending, post_as_made
from botcore.skills.handling_keys import template_id_of
from botcore.skills.ledger import ActionLedger
from botcore.skills.signals import tell_write_in_doubt
from botcore.vibe import VibeClient, template_ids
from botcore.vibe.chat_marks import never_arrived_at_once, newest_on_platform, shows_never_arrived
from botcore.vibe.errors import VibeError
from botcore.vibe.events import BotEvent
from botcore.vibe.models import SentMessage

log = logging.getLogger(__name__)


class PostsOnce:
    """Mixed into VibeSkillContext, which sets these up for the handling (VibeSkillContext.__init__)."""

    _ledger: ActionLedger
    _client: VibeClient | None
    _post_key: str
    _posts: int
    _effects: list[tuple[str, bool]]
    posts_left_in_doubt: list[int]
    _newest_in: dict[str, int | None]
    _newest_stored: Callable[..., int | None] | None

    @property
    def origin(self) -> BotEvent | None:
        raise NotImplementedError

    def _next_template_id(self) -> str:
        self._posts += 1
        return template_id_of(self._post_key, self._posts)

    def _post_once(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        post: Callable[[str, Callable[[], None] | None], SentMessage],
        *,
        template_id: str | None = None,
    ) -> int:
        """Make this handling's next post, once however often the handling runs; its message id.
        `template_id`: the post's key where a skill named its own (ctx.client), else the handling's next.

        A post an earlier attempt made is replayed from the ledger. One whose send failed after it may have
        reached the platform is *in doubt*, unless the chat read at once shows it never arrived
        (_never_arrived): the ledger says so, with the newest message this handling knew in that chat, and
        the failure goes to the executor (the event is handled again later). The next attempt
        sends it again only where that cannot show it twice (_why_send_again); otherwise it is left alone,
        said in a WARNING and on the event's log entry, and 0 stands for its message id.

        Where a repeat would post again, the doubt is written ahead: recorded as the request leaves (the
        transport's on_sending, after the wait for the key's budget), and replaced by the message id once the
        platform answers, or taken back when the send surely did not happen. So a worker killed between the
        platform's answer and the record leaves a post in doubt, judged by the chat, not a post the next
        attempt makes again; killed before the request left, it leaves no record or one the chat, unchanged
        since, clears. Where the answers showed that a repeat posts again, the chat's last message is read
        there too and is the doubt's mark (_newest_as_it_leaves): a GET per post on such a platform only.
        """
        template_id = template_id or self._next_template_id()
        known = self._ledger.find(template_id)
        if known is not None and not known.get("in_doubt"):
            self._effects.append(("post", False))
            return self._seen(dialog_id, int(known["id"]))
        if known is not None:
            sent_again, why = self._why_send_again(client, bot_id, dialog_id, endpoint, known.get("after"))
            if not sent_again:
                log.warning(
                    "post %s of %s is in doubt (an earlier attempt failed after the platform may have taken "
                    "it) and is not sent again, since a repeat could show it twice: %s",
                    self._posts,
                    self._post_key,
                    why,
                )
                self._effects.append(("post", False))
                self.posts_left_in_doubt.append(self._posts)
                tell_write_in_doubt("post", "left")
                return 0
            log.info("post %s of %s was in doubt and is sent again: %s", self._posts, self._post_key, why)
        after = self._newest_known(dialog_id)
        deduplicates = template_ids.deduplicates(client.base_url, client.key_name, endpoint)
        ahead = known is None and not deduplicates
        # Where a repeat was seen to post again, the chat's last message is also read as the request leaves
        # (write_ahead): a person's message written before then and not stored yet, or written during the
        # budget's wait, is newer than any this handling can know, and judged against an older one the post,
        # never arrived, looked arrived and was left unsent.
        read_as_it_leaves = ahead and template_ids.repeats_post_again(
            client.base_url, client.key_name, endpoint
        )
        if not deduplicates:
            # The doubt of a post a repeat would show twice is judged against the chat's newest message before
            # it: the person may have written again since the message this handling knows (a bot behind its
            # dialog), and their newer message may be stored already; an earlier event's handling may have
            # posted there since (the greeting of a dialog whose first word was a command). Knowing none, the
            # chat is read (as the request leaves, where it is read then anyway).
            if after is not None and self._newest_stored is not None:
                after = max(after, self._newest_stored(dialog_id, above=after) or 0)
            if after is None and not read_as_it_leaves:
                after = newest_on_platform(client, bot_id, dialog_id)
        in_doubt = {"in_doubt": True, "after": after}
        written_ahead = False

        def write_ahead() -> None:
            nonlocal written_ahead
            if read_as_it_leaves and not written_ahead:  # a retried attempt keeps the first mark, as recorded
                in_doubt["after"] = self._newest_as_it_leaves(client, bot_id, dialog_id, after)
            self._ledger.record(template_id, in_doubt)  # again at a retried attempt: the first stays
            written_ahead = True

        try:
            sent = post(template_id, write_ahead if ahead else None)
        except VibeError as error:
            if known is None and error.leaves_in_doubt:
                if self._never_arrived(client, bot_id, dialog_id, endpoint, in_doubt["after"], error):
                    self._take_back(template_id, written_ahead)
                    tell_write_in_doubt("post", "never_arrived")  # a failed write like any: made again
                else:
                    self._ledger.record(template_id, in_doubt)
                    tell_write_in_doubt("post", "in_doubt")
            elif known is None:
                self._take_back(template_id, written_ahead)  # refused, or never left: nothing posted
            raise
        # Where it went too: a later handling's post there is judged against it (newest_known_message_in).
        made = {"id": sent.id, "posted_in": dialog_id}
        if known is None and not written_ahead:
            self._ledger.record(template_id, made)
        else:
            self._ledger.settle(template_id, made)  # the doubt written ahead, or an earlier one
        if known is not None:
            # Counted once it went through: a repeat that fails again leaves the same post in doubt.
            tell_write_in_doubt("post", "sent_again")
        self._effects.append(("post", True))
        return self._seen(dialog_id, sent.id)

    def _post_for_client(
        self,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        post: Callable[[str, Callable[[], None] | None], SentMessage],
        *,
        template_id: str | None,
        on_sending: Callable[[], None] | None,
    ) -> SentMessage:
        """A post a skill makes through ctx.client (OnceOnlyClient), made once as the context's own are
        (_post_once); its message as the client gives it, only its id known (0 for one left in doubt)."""
        assert self._client is not None  # ctx.client exists only with a client

        def send(key: str, ours: Callable[[], None] | None) -> SentMessage:
            return post(key, both_sending(ours, on_sending))

        return post_as_made(
            self._post_once(self._client, bot_id, dialog_id, endpoint, send, template_id=template_id)
        )

    def _newest_as_it_leaves(
        self, client: VibeClient, bot_id: int, dialog_id: str, after: int | None
    ) -> int | None:
        """The chat's last message as a post's request leaves (no older than `after`, the newest the handling
        knew), the mark its doubt is judged against. Read inside the transport's on_sending, so a failed read
        must not raise (the post would look as if it had met that failure): it keeps `after`."""
        try:
            newest = newest_on_platform(client, bot_id, dialog_id)
        except VibeError as error:
            log.info("the chat was not read before post %s of %s (%s)", self._posts, self._post_key, error)
            return after
        if newest is None or after is None:
            return after if newest is None else newest
        return max(after, newest)

    def _take_back(self, template_id: str, written_ahead: bool) -> None:
        """Forget the doubt written ahead for a post that surely never happened: the next attempt sends it."""
        if written_ahead:
            self._ledger.forget(template_id)

    def _never_arrived(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        after: int | None,
        error: VibeError,
    ) -> bool:
        """Whether a send that failed just now surely posted nothing, read at once: the platform is done
        with the call (its own error answer: VibeError.call_is_over) and the chat shows it never arrived.
        Read later, at the next attempt, a person writing meanwhile leaves the chat unable to tell, and the
        reply is left unsent. Not asked where a repeat answers the first message anyway, nor when the
        read fails (the post stays in doubt)."""
        if template_ids.deduplicates(client.base_url, client.key_name, endpoint):
            return False
        return never_arrived_at_once(client, bot_id, dialog_id, after, error)

    def _why_send_again(
        self,
        client: VibeClient,
        bot_id: int,
        dialog_id: str,
        endpoint: template_ids.Endpoint,
        after: int | None,
    ) -> tuple[bool, str]:
        """Whether a post left in doubt can be sent again without showing twice, and why.

        Where this endpoint's answers showed that a repeated templateId answers the first message
        (botcore.vibe.template_ids), always. Elsewhere only when the chat shows it never arrived
        (chat_marks.shows_never_arrived). A passing failure of the read is raised, and the event is handled
        again later.
        """
        if template_ids.deduplicates(client.base_url, client.key_name, endpoint):
            return True, "this platform answers a repeated templateId with the first message"
        return shows_never_arrived(client, bot_id, dialog_id, after)

    def _newest_known(self, dialog_id: str) -> int | None:
        """The newest message this handling knows in `dialog_id`: its own last post or upload there (None
        when that answer named no message), else the person's message the event is about, when it was
        written there."""
        if dialog_id in self._newest_in:
            return self._newest_in[dialog_id]
        message = getattr(self.origin, "message", None)
        if message is None or getattr(self.origin, "dialog_id", None) != dialog_id:
            return None
        return int(message.id)

    def _seen(self, dialog_id: str, message_id: int) -> int:
        if message_id:
            self._newest_in[dialog_id] = max(message_id, self._newest_in.get(dialog_id) or 0)
        else:
            # A post whose answer named no message (a command answer as the contract reads it, {result: true})
            # is newer than all this handling knows there: judged against the person's message, the next
            # post there, failing, took this one for itself having arrived and was left unsent. The chat's
            # last message is read before that post instead (_post_once).
            self._newest_in[dialog_id] = None
        return message_id
