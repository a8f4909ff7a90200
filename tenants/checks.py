"""System checks of tenants, said at start-up rather than on the first request that needs them: every
encryption key in TENANTS_FERNET_KEYS is a Fernet key (naming the item, never its value); every
TENANTS_TRUSTED_PROXIES entry is an address or a network; every TENANTS_FRAME_ANCESTORS and
TENANTS_SHARED_FRAME_ANCESTORS entry is a source the Content-Security-Policy's frame-ancestors can hold, the
shared ones each one origin."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import checks

from tenants.client_address import parse_trusted_proxies
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


@checks.register(checks.Tags.security)
def check_trusted_proxies(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    try:
        parse_trusted_proxies(tuple(getattr(settings, "TENANTS_TRUSTED_PROXIES", ())))
    except ValueError as error:
        return [
            checks.Error(
                f"TENANTS_TRUSTED_PROXIES: {error}.",
                hint="List the proxies' addresses or networks, e.g. 10.0.0.5,172.18.0.0/16"
                " (docs/operators.md).",
                id="tenants.E002",
            )
        ]
    return []


# 'self', a scheme (https:), or a host with an optional scheme, `*.` wildcard, port and trailing slash:
# nothing that could end the directive (`;`, `,`) or quote another keyword ('none' among others).
_FRAME_SOURCE = re.compile(
    r"'self'|https?:|(?:https?://)?(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::(?:\d{1,5}|\*))?/?"
)


@checks.register(checks.Tags.security)
def check_frame_ancestors(app_configs: object = None, **kwargs: object) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    for name in ("TENANTS_FRAME_ANCESTORS", "TENANTS_SHARED_FRAME_ANCESTORS"):
        wrong = [
            source for source in getattr(settings, name, []) or [] if not _FRAME_SOURCE.fullmatch(source)
        ]
        if wrong:
            found.append(
                checks.Error(
                    f"{name}: {', '.join(repr(source) for source in wrong[:5])}"
                    " is no frame-ancestors source.",
                    hint="List the origins that may frame the portal pages, e.g. https://*.bitrix24.com"
                    " https://crm.example.com (docs/operators.md).",
                    id="tenants.E003",
                )
            )
    # Each shared source frames every viewer's pages: one standing for many sites (a zone, a scheme) let
    # any portal under it frame another portal's admin, which the per-viewer sources are there to stop.
    broad = [
        source
        for source in getattr(settings, "TENANTS_SHARED_FRAME_ANCESTORS", []) or []
        if "*" in source or source.endswith(":")
    ]
    if broad:
        found.append(
            checks.Error(
                f"TENANTS_SHARED_FRAME_ANCESTORS: {', '.join(repr(source) for source in broad[:5])}"
                " stands for more than one site, and would let each frame every portal's pages.",
                hint="List exact origins there (https://crm.example.com); zones belong in"
                " TENANTS_FRAME_ANCESTORS (docs/operators.md).",
                id="tenants.E004",
            )
        )
    return found
