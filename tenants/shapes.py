"""What a platform credential or id looks like on the wire: printable ASCII, bounded. Anything else is refused
before it reaches an HTTP client (which cannot encode it in a header) or a log line."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from tenants.errors import InstallationError

_CREDENTIAL = re.compile(r"[A-Za-z0-9_.~+/=-]{8,512}")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def is_credential_shaped(value: str) -> bool:
    return bool(_CREDENTIAL.fullmatch(value))


def is_id_shaped(value: str) -> bool:
    return bool(_ID.fullmatch(value))


# A Bitrix24 user id: a positive integer the database's bigint holds (19 digits). Longer, int() itself
# refuses it past 4,300 digits (a 500), and no user has it.
_USER_ID = re.compile(r"[0-9]{1,18}")


def is_user_id_shaped(value: str) -> bool:
    return bool(_USER_ID.fullmatch(value.strip()))


MALFORMED_KEY = _(
    "This is not a personal key: a key has only Latin letters, digits and - _ . ~ + / =. Copy it again."
)

# What a visitor is told of a credential no platform gives (a gateway header's, an OAuth exchange's token).
MALFORMED_CREDENTIALS = _("The request's credentials are malformed.")


def check_session_token(token: str) -> str:
    """`token`, once it is shaped as a credential (is_credential_shaped); InstallationError with
    MALFORMED_CREDENTIALS where not. A token holding a control character was stored and refused only where it
    was used (httpx cannot send it as a header), or sent to the platform for a GET /v1/me (a tab is one a
    header carries): refused before either."""
    if not is_credential_shaped(token):
        raise InstallationError(
            "a session token that is no credential's shape refused", public_message=MALFORMED_CREDENTIALS
        )
    return token
