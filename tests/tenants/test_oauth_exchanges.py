"""A callback's code exchanged once: kept for that callback, encrypted, shared by two requests at once."""

from __future__ import annotations

import threading
import uuid

from django.core.cache import cache

from tenants.identity import ExchangedToken, VerifiedIdentity
from tenants.oauth_exchanges import exchange_once

IDENTITY = VerifiedIdentity(
    vibe_portal_id="p1",
    member_id="m1",
    domain="acme.bitrix24.com",
    portal_name="Acme",
    bitrix_user_id=1,
    user_name="Alice",
    is_admin=True,
    expires_at=None,
)


class SlowPlatform:
    """Exchanges each code once (a second exchange of a code is refused by the platform, so it counts); the
    first waits for `release`, as a slow platform answers."""

    def __init__(self) -> None:
        self.exchanged: list[str] = []
        self.release = threading.Event()

    def exchange_code(self, *, code: str, redirect_uri: str) -> ExchangedToken:
        self.exchanged.append(code)
        self.release.wait(5)
        return ExchangedToken(session_token=f"vibe_session_{code}", identity=IDENTITY)


def test_two_requests_of_one_callback_at_once_share_one_exchange():
    platform = SlowPlatform()
    answers: list[ExchangedToken] = []
    state = uuid.uuid4().hex  # the cache may be a shared Redis: nothing of another test's

    def callback() -> None:
        answers.append(exchange_once(platform, code="c1", state=state, redirect_uri="https://app/cb"))

    first, second = threading.Thread(target=callback), threading.Thread(target=callback)
    first.start()
    while not platform.exchanged:
        threading.Event().wait(0.01)
    second.start()  # a double click: the first is still exchanging
    threading.Event().wait(0.3)
    platform.release.set()
    first.join(10)
    second.join(10)
    assert platform.exchanged == ["c1"]
    assert [a.session_token for a in answers] == ["vibe_session_c1"] * 2


def test_a_kept_exchange_is_only_the_same_callback_s_and_holds_no_plain_token(settings):
    # A cache of this test's own, to read what is kept as stored (pickled bytes).
    own = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "oauth-exchanges"}
    settings.CACHES = {**settings.CACHES, "default": own}
    platform = SlowPlatform()
    platform.release.set()
    exchange_once(platform, code="c1", state="s1", redirect_uri="https://app/cb")
    again = exchange_once(platform, code="c1", state="s1", redirect_uri="https://app/cb")
    assert again.session_token == "vibe_session_c1" and platform.exchanged == ["c1"]
    # A learned code brought with another browser's state is the platform's to refuse, as a spent code.
    exchange_once(platform, code="c1", state="s2", redirect_uri="https://app/cb")
    assert platform.exchanged == ["c1", "c1"]
    stored = list(cache._cache.values())  # type: ignore[attr-defined]  # LocMemCache's own store
    assert stored and not any(b"vibe_session_c1" in value for value in stored)
