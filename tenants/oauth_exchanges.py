"""An OAuth code's exchange, exchanged once and kept for its callback's lifetime.

The platform spends a code on its first exchange (a second is refused: INVALID_GRANT). Yet the same callback
may come again with the code: the 503 of an outage met after the exchange (GET /v1/me) asks for it, and a
double click sends it twice, the first answer (with the cookies that signed the browser in) dropped by the
browser. So the exchanged token is kept in the cache, encrypted as at rest, until the callback's state
expires, and a second request for the same callback waits for the first one's exchange instead of spending
a code already spent.

A kept exchange is found by the code *and* the state: only the browser that began the sign-in holds the
state (tenants.oauth), so someone who learns a code (a history, a log) and brings it with a state of their
own meets the platform's refusal of a spent code, as before.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache

from tenants.crypto import decrypt_secret, encrypt_secret
from tenants.errors import SecretDecryptionError
from tenants.identity import ExchangedToken, IdentityBackend

log = logging.getLogger(__name__)

_PREFIX = "tenants:oauth-exchange:"
_WAIT_STEP_SECONDS = 0.1


def exchange_once(backend: IdentityBackend, *, code: str, state: str, redirect_uri: str) -> ExchangedToken:
    """The exchange of the callback's code: the one kept, the one another request of the same callback is
    making, or a new one (then kept). `state` is the callback's, redeemed already.

    Raises what `backend.exchange_code` raises."""
    callback = "\n".join((redirect_uri, state, code))
    key = _PREFIX + hashlib.sha256(callback.encode()).hexdigest()
    busy = f"{key}:busy"
    # A second request waits for the first one's exchange as long as an exchange may take, retries included.
    longest = settings.VIBE_IDENTITY_CHECK_SECONDS
    deadline = time.monotonic() + longest
    exchanging = cache.add(busy, 1, timeout=math.ceil(longest))
    while not exchanging:
        # Another request of this callback is exchanging the code: its answer is this one's too.
        kept = _kept(key)
        if kept is not None:
            return kept
        if time.monotonic() >= deadline:
            break  # it died or hangs: exchange (the platform says whether the code is spent)
        time.sleep(_WAIT_STEP_SECONDS)
        exchanging = cache.add(busy, 1, timeout=math.ceil(longest))
    try:
        kept = _kept(key)
        if kept is not None:
            return kept
        exchanged = backend.exchange_code(code=code, redirect_uri=redirect_uri)
        sealed = (encrypt_secret(exchanged.session_token), exchanged.identity)
        try:
            cache.set(key, sealed, timeout=settings.TENANTS_OAUTH_STATE_MAX_AGE)
        except Exception as error:  # noqa: BLE001 (the cache down, of any backend: this sign-in goes on)
            log.warning("oauth exchange not kept for a retry: the cache refused it: %s", type(error).__name__)
        return exchanged
    finally:
        if exchanging:
            cache.delete(busy)


def _kept(key: str) -> ExchangedToken | None:
    sealed = cache.get(key)
    if sealed is None:
        return None
    ciphertext, identity = sealed
    try:
        return ExchangedToken(session_token=decrypt_secret(ciphertext), identity=identity)
    except SecretDecryptionError:
        return None  # sealed with a key no longer configured: exchange again (the platform decides)
