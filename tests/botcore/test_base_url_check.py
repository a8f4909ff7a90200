"""A VIBE_BASE_URL that is no http(s) address stops every command at start (botcore.E015): with `htps://…`
every call of every bot was refused by httpx (UnsupportedProtocol), retried as a passing failure, and each
bot backed off on its own, found one by one in the logs."""

from __future__ import annotations

import pytest
from django.core import checks

from botcore.checks import check_platform_address


@pytest.mark.parametrize(
    "url", ["htps://vibecode.bitrix24.tech/v1", "vibecode.bitrix24.tech/v1", "ftp://x/v1", "https:///v1", ""]
)
def test_a_platform_address_no_client_can_call_stops_every_command_at_start(settings, url):
    settings.VIBE_BASE_URL = url
    errors = [m for m in checks.run_checks(tags=[checks.Tags.compatibility]) if m.id == "botcore.E015"]
    assert len(errors) == 1 and "VIBE_BASE_URL" in errors[0].msg


@pytest.mark.parametrize("url", ["https://vibecode.bitrix24.tech/v1", "http://127.0.0.1:8100/v1/"])
def test_an_http_platform_address_passes(settings, url):
    settings.VIBE_BASE_URL = url
    assert check_platform_address() == []
