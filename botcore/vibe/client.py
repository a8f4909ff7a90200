"""VibeClient: one typed method per endpoint of the VibeCode bot platform (the reference's 36).

    client = VibeClient(api_key="vibe_app_…", session_token="vibe_session_…")   # a catalog app
    client = VibeClient(api_key="vibe_api_…")                                   # a personal key
    bot = client.register_bot(code="helper", name="Helper", adopt_existing=True)
    batch = client.get_events(bot.id, offset=stored_offset)

The methods live in one mixin per reference section (endpoints/); HTTP, retries and the request budget
live in transport.py, http_clients.py and budget.py; an answer becomes its data or an error in answers.py.
Arguments are keyword-only except the ids a call is about (bot_id, message_id, dialog_id, command_id,
file_id); results are frozen dataclasses read by pydantic (models.py, events.py; wire.py says how, and
parse.py reads events); failures are the VibeError family (errors.py). Each method's docstring names its retry
class: SAFE and IDEMPOTENT calls are retried on transient failures, UNSAFE ones only when the platform
surely did not act.

Retry classes (transport.py explains them; tests/botcore/vibe/test_endpoints.py holds them to this):
- SAFE, retried on any transient failure: list_bots, get_bot, get_revision, get_events, get_message,
  get_message_context, get_chat, list_chat_users, list_commands, list_users, get_file_download_url,
  download_file.
- IDEMPOTENT, retried the same way because repeating them changes nothing: update_bot, delete_bot,
  reauth_bot, resubscribe_bot, update_message, delete_message, mark_read, add_reaction, remove_reaction,
  show_typing, set_text_field, update_chat, leave_chat, set_chat_owner, add_chat_users, remove_chat_user,
  add_chat_managers, remove_chat_managers, register_command (same name, same command), update_command,
  delete_command, and register_bot with adopt_existing=True.
- UNSAFE, retried only when nothing can have happened (connection never opened, or 429): register_bot,
  send_message, answer_command, create_chat, upload_file.

Settings (botcore/conf.py) fill in whatever the constructor is not given, read when the client is made;
without Django configured the client still works from its arguments alone.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from botcore import conf
from botcore.vibe.budget import Priority, RequestBudget
from botcore.vibe.endpoints.bots import BotEndpoints
from botcore.vibe.endpoints.chats import ChatEndpoints
from botcore.vibe.endpoints.commands import CommandEndpoints
from botcore.vibe.endpoints.events import EventEndpoints
from botcore.vibe.endpoints.files import FileEndpoints
from botcore.vibe.endpoints.interface import InterfaceEndpoints
from botcore.vibe.endpoints.messages import MessageEndpoints
from botcore.vibe.endpoints.users import UserEndpoints
from botcore.vibe.http_clients import make_http_client, shared_http_client
from botcore.vibe.key_budgets import APP_KEY_PREFIX, PERSONAL_KEY_PREFIX, budget_for_key
from botcore.vibe.transport import Transport


def describe_key(api_key: str) -> str:
    """A key's kind without its secret part, for repr and logs."""
    for prefix in (APP_KEY_PREFIX, PERSONAL_KEY_PREFIX, "vibe_live_"):
        if api_key.startswith(prefix):
            return prefix + "…"
    return "<unrecognised key>"


class VibeClient(
    BotEndpoints,
    EventEndpoints,
    MessageEndpoints,
    InterfaceEndpoints,
    ChatEndpoints,
    CommandEndpoints,
    FileEndpoints,
    UserEndpoints,
):
    """A client of the bot platform acting as one key (and, for an app key, one user's session).

    Cheap to make: by default it shares this process's httpx.Client (connection reuse across every
    client) and the key's shared request budget. Thread-safe.
    """

    def __init__(
        self,
        *,
        api_key: str,
        session_token: str | None = None,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        budget: RequestBudget | None = None,
        portal: str | None = None,
        max_attempts: int | None = None,
        retry_max_wait: float | None = None,
        backoff_base: float | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        deadline: float | None = None,
        default_priority: Priority = Priority.REPLY,
    ) -> None:
        """Raise ValueError for a missing key, or a personal key given a session token (it takes none).

        `http`: an httpx.Client to use (the caller closes it); without it, the process's shared client,
        or a client of our own when timeouts are given. `budget`: a RequestBudget (NoBudget() to turn it
        off); without it, the key's shared budget from the settings, learned per key and, given
        `portal` (the portal's member_id), per portal too. `deadline`: a time.monotonic() after which no
        call waits or is sent (a poll cycle's, so a hanging platform ends in a VibeTransportError the
        caller can judge, before the task queue kills the worker). `default_priority`: the budget's priority
        of the calls that name none, the posts (Priority.RUN for a skill run's client).
        """
        if not api_key:
            raise ValueError("api_key is required (vibe_app_… with a session token, or vibe_api_…)")
        if session_token and api_key.startswith(PERSONAL_KEY_PREFIX):
            raise ValueError("a personal vibe_api_ key acts as its owner and takes no session token")
        self._key_kind = describe_key(api_key)
        self._has_session = bool(session_token)
        self._owns_http = False
        if http is None:
            if connect_timeout is not None or read_timeout is not None:
                http = make_http_client(
                    connect_timeout=conf.vibe_connect_timeout()
                    if connect_timeout is None
                    else connect_timeout,
                    read_timeout=conf.vibe_read_timeout() if read_timeout is None else read_timeout,
                )
                self._owns_http = True
            else:
                http = shared_http_client()
        self._transport = Transport(
            base_url=base_url or conf.vibe_base_url(),
            api_key=api_key,
            session_token=session_token,
            http=http,
            budget=budget if budget is not None else budget_for_key(api_key, portal=portal),
            max_attempts=conf.vibe_max_attempts() if max_attempts is None else max_attempts,
            retry_max_wait=conf.vibe_retry_max_wait() if retry_max_wait is None else retry_max_wait,
            backoff_base=conf.vibe_retry_backoff_base() if backoff_base is None else backoff_base,
            deadline=deadline,
            default_priority=default_priority,
        )

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def key_name(self) -> str:
        """A digest naming the key this client calls with (never the key)."""
        return self._transport.key_name

    def send_held_calls(self, *, until: float | None = None) -> int:
        """Send the best-effort calls held for lack of room in the request budget (a reaction, a read mark:
        held_calls.py), in order, each when the budget has room: waiting for it until `until`
        (time.monotonic()) and dropping, with a WARNING, what is still held then; with None, only those it
        has room for now, keeping the rest. Returns how many it dropped or kept. Never raises."""
        left = self._transport.send_held(until=until)
        if left and until is not None:
            self._transport.held.drop("the request budget had no room for it in time")
        return left

    def drop_held_calls(self, why: str) -> int:
        """Forget the held best-effort calls (each said at WARNING with `why`); how many there were."""
        return self._transport.held.drop(why)

    def close(self) -> None:
        """Close the HTTP client if this VibeClient made it (the shared one stays open for others)."""
        if self._owns_http:
            self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        session = "with session" if self._has_session else "no session"
        return f"VibeClient(base_url={self.base_url!r}, key={self._key_kind}, {session})"
