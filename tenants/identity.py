"""The seam through which tenants asks the platform who a credential belongs to.

tenants never imports botcore, yet verifying a token means calling `GET /v1/me`, which only botcore's
client may do. So tenants names what it needs here and loads the implementation by dotted path from
TENANTS_IDENTITY_BACKEND (botcore's adapter by default; tests may point it at their own).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the platform says a credential belongs to (from GET /v1/me)."""

    vibe_portal_id: str
    member_id: str
    domain: str
    portal_name: str
    bitrix_user_id: int
    user_name: str
    is_admin: bool
    expires_at: datetime | None  # the session's expiry; None for a personal key, or when /v1/me did not say
    scopes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, repr=False)
class ExchangedToken:
    session_token: str
    identity: VerifiedIdentity

    def __repr__(self) -> str:
        return f"ExchangedToken(session_token=<hidden>, identity={self.identity!r})"


class IdentityBackend(Protocol):
    def verify_session(self, session_token: str) -> VerifiedIdentity:
        """Raise tenants.errors.InstallationError when the platform does not confirm the token."""

    def verify_api_key(self, api_key: str) -> VerifiedIdentity:
        """Who owns a personal vibe_api_ key; InstallationError when the platform refuses it."""

    def exchange_code(self, *, code: str, redirect_uri: str) -> ExchangedToken:
        """The OAuth code exchange; InstallationError when the platform refuses the code."""

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """Where to send the browser to start the OAuth redirect."""


def get_identity_backend() -> IdentityBackend:
    backend: IdentityBackend = import_string(settings.TENANTS_IDENTITY_BACKEND)()
    return backend
