"""A request that cannot be made is refused here, before anything is sent, as a permanent VibeError.

httpx (and h11 under it) refuse some requests while building or starting them: a URL too long or holding a
character no URL carries, a header value HTTP does not allow. They raised httpx's own exceptions past the
client (a skill's `get_chat("chat" + "9" * 100000)` failed its event as a skill's bug, with a traceback), or,
for a header h11 refused, a VibeTransportError that was retried as a passing failure, each retry spending the
key's budget, and whose text quoted the header, session token and all. Each is now one
VibeUnsendableRequestError: never retried, nothing sent and no budget spent, and no secret in its text.
"""

from __future__ import annotations

import asyncio
import json
import traceback

import httpx
import pytest

from botcore.errors import is_transient
from botcore.vibe import VibeClient, VibeError, VibeUnsendableRequestError
from botcore.vibe.budget import Priority
from botcore.vibe.watch import WatchAuth, watch_events

API_KEY = "vibe_app_0123456789abcdefSECRETKEY"
TOKEN = "vibe_session_TOPSECRETTOKEN_42"
BASE_URL = "https://platform.test/v1"
FILE_TOKEN = "FILETOKENSECRET77"


class CountingBudget:
    """A budget with room for everything, counting the calls it admitted (each one to be sent)."""

    def __init__(self) -> None:
        self.admitted = 0

    def acquire(self, *, priority: Priority = Priority.REPLY) -> bool:
        self.admitted += 1
        return True

    def record(self, *, limited: bool, sent_at: float | None = None) -> None:
        return None

    def room_in(self) -> float:
        return 0.0


class Platform:
    """An httpx transport standing in for the platform: counts what reached it, answers as `answer` says."""

    def __init__(self, answer=None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer(request)
        return httpx.Response(200, json={"success": True, "data": {}})


def client_for(platform: Platform, *, api_key: str = API_KEY, session_token: str | None = TOKEN):
    budget = CountingBudget()
    client = VibeClient(
        api_key=api_key,
        session_token=session_token,
        base_url=BASE_URL,
        http=httpx.Client(transport=httpx.MockTransport(platform)),
        budget=budget,
        max_attempts=4,
        backoff_base=0.0,
    )
    return client, budget


def everything_said_about(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), "".join(traceback.format_exception(error))])


def assert_refused_unsent(caught: pytest.ExceptionInfo, *secrets: str) -> None:
    error = caught.value
    assert isinstance(error, VibeUnsendableRequestError) and isinstance(error, VibeError)
    assert not is_transient(error) and not error.may_have_acted and not error.leaves_in_doubt
    assert "not sent" in str(error)
    said = everything_said_about(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    for secret in secrets:
        assert secret not in said
        assert secret[9:] not in said  # not even the part after the prefix


LONG_ID = "chat" + "9" * 100_000


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.get_chat(1, LONG_ID), id="path-too-long"),
        pytest.param(lambda c: c.update_chat(1, LONG_ID, title="t"), id="path-too-long-write"),
        pytest.param(lambda c: c.leave_chat(1, LONG_ID), id="path-too-long-post"),
        pytest.param(lambda c: c.get_chat(1, "chat5\ud83d"), id="lone-surrogate-in-path"),
        pytest.param(
            lambda c: c.list_chat_users(1, "chat5", order={"NAME\ud83d": "ASC"}), id="surrogate-query"
        ),
        pytest.param(
            lambda c: c.list_chat_users(1, "chat5", order={"N" * 70_000: "ASC"}), id="query-too-long"
        ),
    ],
)
def test_a_url_that_cannot_be_built_is_refused_unsent_and_never_retried(call):
    platform = Platform()
    client, budget = client_for(platform)
    with pytest.raises(VibeError) as caught:
        call(client)
    assert_refused_unsent(caught, API_KEY, TOKEN)
    assert len(str(caught.value)) < 500  # the 100,000 digits are not quoted back
    assert platform.requests == [] and budget.admitted == 0


@pytest.mark.parametrize(
    "api_key, token, named",
    [
        (API_KEY, TOKEN + "\nX-Injected: 1", "session token"),
        (API_KEY, TOKEN + "\x00", "session token"),
        (API_KEY, TOKEN + "\r", "session token"),
        (API_KEY, TOKEN + " ", "session token"),
        (API_KEY, "vibe_session_токен_" + TOKEN[13:], "session token"),
        (API_KEY + "\n", TOKEN, "API key"),
        ("vibe_api_ключ_0123456789SECRET", None, "API key"),
    ],
)
def test_a_credential_no_http_header_may_carry_is_refused_unsent_and_named_not_quoted(api_key, token, named):
    platform = Platform()
    client, budget = client_for(platform, api_key=api_key, session_token=token)
    for call in (lambda: client.list_bots(), lambda: client.send_message(1, dialog_id="chat5", text="hi")):
        with pytest.raises(VibeError) as caught:
            call()
        assert_refused_unsent(caught, *(s.strip() for s in (api_key, token) if s))
        assert named in str(caught.value)
    assert platform.requests == [] and budget.admitted == 0


def test_a_header_h11_refuses_at_sending_is_permanent_and_not_quoted():
    """Past the check before sending, h11's own refusal (its text quotes the header value) still is."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'Bearer {TOKEN}\\n'")

    platform = Platform(answer=refuse)
    client, _ = client_for(platform)
    with pytest.raises(VibeError) as caught:
        client.get_chat(1, "chat5")
    assert_refused_unsent(caught, API_KEY, TOKEN)
    assert len(platform.requests) == 1  # tried once, not retried


def test_a_download_url_the_platform_gave_that_cannot_be_fetched_is_refused_without_quoting_it():
    """The download URL carries its own token: a refusal of it names no part of it."""

    def answer(request: httpx.Request) -> httpx.Response:
        url = f"https://files.test/get?token={FILE_TOKEN}\x00&x=" + "9" * 10
        return httpx.Response(200, json={"success": True, "data": {"downloadUrl": url, "size": 3}})

    platform = Platform(answer=answer)
    client, budget = client_for(platform)
    with pytest.raises(VibeError) as caught:
        client.download_file(1, 7)
    assert_refused_unsent(caught, API_KEY, TOKEN, FILE_TOKEN)
    assert "files.test" not in everything_said_about(caught.value)
    assert [r.url.path for r in platform.requests] == ["/v1/bots/1/files/7"] and budget.admitted == 1


class NoPool:
    """A connection pool no request may reach."""

    def stream(self, *args, **kwargs):
        raise AssertionError("a request was sent")


@pytest.mark.parametrize(
    "token",
    [TOKEN + "\n", "vibe_session_токен_" + TOKEN[13:], TOKEN + " "],
    ids=["newline", "cyrillic", "space"],
)
def test_the_pollers_watch_with_a_credential_no_header_may_carry_is_refused_unsent(token):
    """The watch met a newline as a transient failure (handed to its cycle, backing off for ever) and a
    non-ASCII letter as a TypeError: the poller logged a traceback for it every second."""
    auth = WatchAuth(api_key=API_KEY, session_token=token)
    with pytest.raises(VibeError) as caught:
        asyncio.run(watch_events(NoPool(), base_url=BASE_URL, vibe_bot_id=1, auth=auth, offset=0))
    assert_refused_unsent(caught, API_KEY, token.strip())
    assert "session token" in str(caught.value)
    json.dumps(str(caught.value))  # printable as it is logged
