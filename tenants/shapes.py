"""What a platform credential or id looks like on the wire: printable ASCII, bounded. Anything else is refused
before it reaches an HTTP client (which cannot encode it in a header) or a log line."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

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
