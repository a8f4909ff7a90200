"""Operators' API tokens: issued once (create_operator prints it), stored as a SHA-256 digest, checked by
digest, refused once expired (OPS_API_TOKEN_DAYS unless the issuer said otherwise). A token is 256 random
bits, so an unsalted fast hash suffices: there is nothing to guess from. DRF's own tokens
(rest_framework.authtoken) were stored as sent; the migration adopts them as digests."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from ops.models import OperatorToken


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue_operator_token(user: Any, *, days: int | None = None) -> tuple[str, datetime | None]:
    """A new token for `user`, replacing (revoking) any earlier one; the only time it is seen. It lasts
    `days` (None: OPS_API_TOKEN_DAYS; 0: never expires). Returns the token and when it expires."""
    days = settings.OPS_API_TOKEN_DAYS if days is None else days
    expires_at = timezone.now() + timedelta(days=days) if days > 0 else None
    token = secrets.token_urlsafe(32)
    OperatorToken.objects.update_or_create(
        user=user, defaults={"digest": digest_of(token), "expires_at": expires_at}
    )
    return token, expires_at


def revoke_operator_token(user: Any) -> bool:
    """Withdraw `user`'s API token; False when they had none."""
    deleted, _ = OperatorToken.objects.filter(user=user).delete()
    return bool(deleted)


class OperatorTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <token>` (DRF's word) or `Bearer <token>` (most HTTP clients', and /metrics'),
    looked up by digest."""

    def authenticate(self, request: Any) -> tuple[Any, OperatorToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() not in (b"token", b"bearer"):
            return None  # another scheme's, or none: the next authenticator's (the admin's session)
        if len(words) != 2:
            raise AuthenticationFailed(_("Invalid token header: give one token after Token or Bearer."))
        try:
            return self.authenticate_credentials(words[1].decode("ascii"))
        except UnicodeError:
            raise AuthenticationFailed(_("Invalid token.")) from None

    def authenticate_credentials(self, key: str) -> tuple[Any, OperatorToken]:
        found = OperatorToken.objects.select_related("user").filter(digest=digest_of(key)).first()
        if found is None:
            raise AuthenticationFailed(_("Invalid token."))
        if found.expires_at is not None and found.expires_at <= timezone.now():
            raise AuthenticationFailed(
                _("Token expired: ask for a new one (manage.py create_operator NAME --api-token).")
            )
        if not found.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return found.user, found


def adopt_legacy_tokens(legacy_model: Any, token_model: Any) -> int:
    """Move DRF's plain tokens into `token_model` as digests and delete them (the migration's work; the
    models are passed in, as a migration's historical ones are). Returns how many moved."""
    moved = 0
    for legacy in legacy_model.objects.all():
        token_model.objects.update_or_create(
            user_id=legacy.user_id, defaults={"digest": digest_of(legacy.key)}
        )
        moved += 1
    legacy_model.objects.all().delete()
    return moved
