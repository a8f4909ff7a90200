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


MALFORMED_KEY = _(
    "This is not a personal key: a key has only Latin letters, digits and - _ . ~ + / =. Copy it again."
)
