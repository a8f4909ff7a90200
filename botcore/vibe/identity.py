"""Who a credential belongs to (`GET /v1/me`) and the OAuth code exchange, as tenants' identity backend.

tenants names what it needs in `tenants.identity.IdentityBackend` and loads this class by dotted path
(TENANTS_IDENTITY_BACKEND), so the wire format of these calls stays in botcore/vibe like every other.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.utils.translation import gettext_lazy as _

from botcore import conf
from botcore.vibe.coerce import as_bool, as_datetime, as_int, as_str
from botcore.vibe.errors import SESSION_AMBIGUOUS_CODES, VibeError, VibeKeyRefusedError, refuses_app_key
from botcore.vibe.http_clients import shared_http_client
from botcore.vibe.key_budgets import budget_for_key
from botcore.vibe.transport import RetryClass, Transport
from tenants.errors import InstallationError
from tenants.identity import ExchangedToken, VerifiedIdentity

log = logging.getLogger(__name__)

KEY_CHECK_SECONDS = 60.0  # how long this process believes the platform's word on the app key alone
# This process's last answers, per platform and key: (when, whether the platform took the key alone).
_key_checked: dict[tuple[str, str], tuple[float, bool]] = {}


def refuses_app_key_itself(error: BaseException, *, with_session: bool) -> bool:
    """Whether `error` refused the app's own key rather than the session the call carried: the one answer
    for the identity checks and the bots' calls alike (botcore.services.platform.refuses_app_key).

    botcore.vibe.errors.refuses_app_key, except an "invalid key" (SESSION_AMBIGUOUS_CODES) while the
    platform takes the key alone, asked at most once a minute per process: a platform may answer an expired
    session so, and each portal whose session ran out was then polled for ever with an ERROR to fix
    VIBE_APP_KEY, its admin never asked back. A revoked key, or one without a scope, is the key's."""
    if not refuses_app_key(error, with_session=with_session):
        return False
    return not (getattr(error, "canonical_code", None) in SESSION_AMBIGUOUS_CODES and _app_key_stands())


def _app_key_stands() -> bool:
    now = time.monotonic()
    which = (conf.vibe_base_url(), conf.vibe_app_key())
    checked = _key_checked.get(which)
    if checked is not None and now - checked[0] < KEY_CHECK_SECONDS:
        return checked[1]
    answer = VibeIdentityBackend().app_key_stands()
    if answer is None:
        # Not answered (a 5xx, a 429, a timeout): the key's refusal for this call, the reading that keeps
        # every session and backs the bot off, but not remembered: kept a minute, every expired session in
        # this process read as the app key's refusal (an alert to fix VIBE_APP_KEY, gateway visits a 503).
        return False
    if answer:
        log.warning(
            "the platform refused a session call as INVALID_API_KEY, yet takes the app key alone: it is the"
            " session it refused"
        )
    _key_checked[which] = (now, answer)
    return answer


def forget_app_key_checks() -> None:
    """Drop what refuses_app_key_itself learned (tests meet many platforms and keys in one process)."""
    _key_checked.clear()


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


# The longest life read from an `expires_in`: a token said to live 1e300 seconds (or NaN) raised OverflowError
# out of the exchange, a 500 for the installing admin; a far end is corrected by the first 401 anyway.
MAX_EXPIRES_IN_SECONDS = 366 * 86_400


def _expiry_in(seconds: object) -> datetime | None:
    """The end of a token that lives `expires_in` seconds from now (the OAuth form, CONTRACT A §6)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < math.inf:
        return None  # NaN fails the comparison too
    return datetime.now(UTC) + timedelta(seconds=min(seconds, MAX_EXPIRES_IN_SECONDS))


# A number at or past this is a Unix time in milliseconds (JavaScript's Date.now()), not in seconds: as
# seconds it would be past the year 5000.
_EPOCH_MILLISECONDS_FROM = 10**11


def _session_end(value: object) -> datetime | None:
    """A session's stated end: an ISO-8601 instant, or a Unix time, as a number or its digits (a PHP backend's
    time(), docs/sandbox.md `epoch-expiry`), in seconds or milliseconds. Read as no end at all, a Unix time
    became the contract's assumed life, and where the session lived longer the bot stopped answering when
    that ran out, its token still good. None for anything else (0 and PHP's false among them: no end stated);
    an end past MAX_EXPIRES_IN_SECONDS from now is cut there, as an `expires_in` is."""
    if isinstance(value, str) and not value.strip().isdigit():
        return as_datetime(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    stamp = float(value) if isinstance(value, str) else value
    if not 0 < stamp < math.inf:
        return None  # NaN fails the comparison too
    if stamp >= _EPOCH_MILLISECONDS_FROM:
        stamp /= 1000
    latest = datetime.now(UTC) + timedelta(seconds=MAX_EXPIRES_IN_SECONDS)
    if stamp >= latest.timestamp():
        return latest
    return datetime.fromtimestamp(stamp, UTC)


def _scopes(value: object) -> tuple[str, ...]:
    """The scopes a credential has: a list, or one string of them ("imbot im", "imbot,im"); a number or an
    object names none (iterated, a number raised TypeError: a 500 for the visitor)."""
    if isinstance(value, str):
        return tuple(s for s in value.replace(",", " ").split() if s)
    if isinstance(value, list):
        return tuple(as_str(s) for s in value)
    return ()


def identity_from_me(data: Mapping[str, Any]) -> VerifiedIdentity:
    """Read GET /v1/me's answer (CONTRACT part A §6); a personal key's owner stands in for currentUser."""
    portal = _mapping(data.get("portal"))
    user = _mapping(data.get("currentUser")) or _mapping(data.get("owner"))
    if not portal.get("memberId") or not (user.get("bitrixUserId") or user.get("userId") or user.get("id")):
        raise InstallationError("GET /v1/me did not name a portal and a user for this credential")
    return VerifiedIdentity(
        vibe_portal_id=as_str(portal.get("id")),
        member_id=as_str(portal.get("memberId")),
        domain=as_str(portal.get("domain")),
        portal_name=as_str(portal.get("name")),
        bitrix_user_id=as_int(user.get("bitrixUserId") or user.get("userId") or user.get("id")),
        user_name=as_str(user.get("name")),
        is_admin=as_bool(user.get("isAdmin")),
        expires_at=_stated_session_end(_mapping(data.get("session")).get("expiresAt")),
        scopes=_scopes(data.get("scopes")),
    )


def _stated_session_end(value: object) -> datetime | None:
    """_session_end, saying so when /v1/me states an end this client cannot read: taken for none, the session
    is given the assumed life (tenants), and when that runs out early the bot stops with its token still
    good; an operator reading the log saw only an expiry that was not the platform's."""
    end = _session_end(value)
    if end is None and value not in (None, "", 0, False):
        log.warning(
            "GET /v1/me stated a session end this client cannot read (%.60r): the assumed life is used", value
        )
    return end


def token_from_exchange(data: Mapping[str, Any]) -> ExchangedToken:
    """Read POST /v1/oauth/token's answer: the session token and whose it is."""
    token = as_str(data.get("access_token"))
    if not token:
        raise InstallationError("the token exchange answered no access_token")
    user = _mapping(data.get("user"))
    portal = _mapping(data.get("portal"))
    identity = VerifiedIdentity(
        vibe_portal_id=as_str(portal.get("id")),
        member_id=as_str(portal.get("memberId")),
        domain=as_str(portal.get("domain")),
        portal_name=as_str(portal.get("name")),
        bitrix_user_id=as_int(user.get("bitrixUserId") or user.get("id")),
        user_name=as_str(user.get("name")),
        is_admin=as_bool(user.get("isAdmin")),
        expires_at=_session_end(data.get("expires_at")) or _expiry_in(data.get("expires_in")),
    )
    return ExchangedToken(session_token=token, identity=identity)


class VibeIdentityBackend:
    """tenants' IdentityBackend over the platform. Its calls spend the key's request budget, at a reply's
    priority (a person is waiting): a mass install's visits skipped it, met the platform's 429s, and the
    429s the key's other calls met then cut the rate every portal's bots were paced at."""

    def _transport(
        self, *, api_key: str, session_token: str | None = None, sends_secret: str | None = None
    ) -> Transport:
        # Within VIBE_IDENTITY_CHECK_SECONDS, retries included: four attempts waiting out the platform's
        # 429s held the visitor's page, and a web worker, for as long as the platform asked each time.
        return Transport(
            base_url=conf.vibe_base_url(),
            api_key=api_key,
            session_token=session_token,
            http=shared_http_client(),
            budget=budget_for_key(api_key),
            max_attempts=conf.vibe_max_attempts(),
            retry_max_wait=conf.vibe_retry_max_wait(),
            deadline=time.monotonic() + conf.vibe_identity_check_seconds(),
            sends_secret=sends_secret,
        )

    def _app_key(self) -> str:
        key = conf.vibe_app_key()
        if not key:
            missing = InstallationError(
                "VIBE_APP_KEY is not configured", public_message=_("The app is not configured yet.")
            )
            # The app's own key is at fault, not the credential checked, as when the platform refuses it: read
            # as a refusal of the session, an operator's re-verify and a role check dropped sessions.
            missing.refuses_app_key = True
            raise missing
        return key

    def _call(
        self, transport: Transport, method: str, path: str, *, session: bool = False, **kwargs: Any
    ) -> Mapping[str, Any]:
        """The call's data; InstallationError saying whether the platform could not be asked, or refused
        the app's key rather than the `session` checked."""
        try:
            data = transport.request(method, path, **kwargs)
        except VibeError as error:
            # The error's text names code and status only; never the credential.
            log.warning("identity check failed at the platform: %s", error)
            # Could not ask (429, 5xx, no answer), or something in the way answered (a proxy's page, a
            # router's 404 for a platform without /v1/me, which the reference does not document): nothing was
            # refused.
            # Read as a refusal, a router's 404 dropped the session it was asked about.
            could_not_ask = error.is_transient or error.answered_in_the_way
            if could_not_ask:
                refusal = InstallationError(
                    f"the platform could not check the credential now: {error}",
                    public_message=_(
                        "We could not check who you are just now: the platform is busy. Please try again"
                        " shortly."
                    ),
                )
            elif refuses_app_key_itself(error, with_session=session):
                log.error("the platform refused the app's own key (VIBE_APP_KEY): %s", error)
                refusal = InstallationError(
                    f"the platform refused the app's key: {error}",
                    public_message=_(
                        "The app has lost its access to the platform, so it cannot check who you are. Please"
                        " try again later."
                    ),
                )
                refusal.refuses_app_key = True
            else:
                refusal = InstallationError(f"the platform refused the credential: {error}")
            refusal.is_transient = could_not_ask
            refusal.retry_after = getattr(error, "retry_after", None) if could_not_ask else None
            raise refusal from None
        return _mapping(data)

    def verify_session(self, session_token: str) -> VerifiedIdentity:
        """Who the token's session is; `expires_at` is None when /v1/me does not say (tenants assumes one)."""
        transport = self._transport(api_key=self._app_key(), session_token=session_token)
        return identity_from_me(self._call(transport, "GET", "/me", session=True, retry=RetryClass.SAFE))

    def app_key_stands(self) -> bool | None:
        """Whether the platform takes the app's key alone (GET /v1/me without a session): True, False when it
        refuses the key, None when it could not be asked or answered something else."""
        transport = self._transport(api_key=self._app_key())
        try:
            transport.request("GET", "/me", retry=RetryClass.SAFE)
        except VibeKeyRefusedError:
            return False
        except VibeError as error:
            log.warning("app key check failed at the platform: %s", error)
            return None
        return True

    def verify_api_key(self, api_key: str) -> VerifiedIdentity:
        transport = self._transport(api_key=api_key)
        return identity_from_me(self._call(transport, "GET", "/me", retry=RetryClass.SAFE))

    def exchange_code(self, *, code: str, redirect_uri: str) -> ExchangedToken:
        app_key = self._app_key()
        transport = self._transport(api_key=app_key, sends_secret=code)
        # A code is single-use: a retried exchange after a lost answer would only be refused.
        data = self._call(
            transport,
            "POST",
            "/oauth/token",
            body={"app_key": app_key, "code": code, "redirect_uri": redirect_uri},
            retry=RetryClass.UNSAFE,
        )
        return token_from_exchange(data)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        query = urlencode({"app_key": self._app_key(), "redirect_uri": redirect_uri, "state": state})
        return f"{conf.vibe_base_url()}/oauth/authorize?{query}"
