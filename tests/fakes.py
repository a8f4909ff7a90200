"""Fakes for the seams the project owns (no mock.patch): an identity backend tests can script."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tenants.errors import InstallationError
from tenants.identity import ExchangedToken, VerifiedIdentity


def make_identity(
    *,
    member_id: str = "member-1",
    vibe_portal_id: str = "portal-uuid-1",
    domain: str = "acme.bitrix24.com",
    user_id: int = 1,
    is_admin: bool = True,
    expires_in: float = 3600,
) -> VerifiedIdentity:
    return VerifiedIdentity(
        vibe_portal_id=vibe_portal_id,
        member_id=member_id,
        domain=domain,
        portal_name=domain.split(".")[0],
        bitrix_user_id=user_id,
        user_name=f"User {user_id}",
        is_admin=is_admin,
        expires_at=datetime.now(timezone.utc) + timedelta(seconds=expires_in),
    )


class FakeIdentityBackend:
    """Answers like GET /v1/me from a table tests fill in; unknown credentials are refused."""

    sessions: dict[str, VerifiedIdentity] = {}
    api_keys: dict[str, VerifiedIdentity] = {}
    codes: dict[str, tuple[str, VerifiedIdentity]] = {}
    calls: list[str] = []

    @classmethod
    def reset(cls) -> None:
        cls.sessions, cls.api_keys, cls.codes, cls.calls = {}, {}, {}, []

    def verify_session(self, session_token: str) -> VerifiedIdentity:
        self.calls.append("verify_session")
        try:
            return self.sessions[session_token]
        except KeyError:
            raise InstallationError("the platform does not know this token") from None

    def verify_api_key(self, api_key: str) -> VerifiedIdentity:
        self.calls.append("verify_api_key")
        try:
            return self.api_keys[api_key]
        except KeyError:
            raise InstallationError("the platform does not know this key") from None

    def exchange_code(self, *, code: str, redirect_uri: str) -> ExchangedToken:
        self.calls.append("exchange_code")
        try:
            token, identity = self.codes.pop(code)
        except KeyError:
            raise InstallationError("unknown or used code") from None
        return ExchangedToken(session_token=token, identity=identity)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        return f"https://platform.invalid/oauth/authorize?state={state}"
