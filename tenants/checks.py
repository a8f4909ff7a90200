"""System checks of tenants: every encryption key in TENANTS_FERNET_KEYS is a Fernet key, said at start-up
(not when the first secret is written), naming the item and never its value."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from tenants.crypto import make_fernet


@checks.register(checks.Tags.security)
def check_fernet_keys(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for position, key in enumerate(getattr(settings, "TENANTS_FERNET_KEYS", []) or [], start=1):
        try:
            make_fernet(key)
        except (ValueError, TypeError):
            found.append(
                checks.Error(
                    f"VIBE_FERNET_KEYS item {position} is not a Fernet key"
                    " (32 url-safe base64-encoded bytes).",
                    hint='Make one with python -c "from cryptography.fernet import Fernet;'
                    ' print(Fernet.generate_key().decode())" (docs/operators.md, key rotation).',
                    id="tenants.E001",
                )
            )
    return found
