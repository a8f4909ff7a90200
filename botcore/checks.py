"""Django system checks of botcore's settings, run before every management command (qcluster, runpacer)."""

from __future__ import annotations

from django.core import checks

from botcore import conf


@checks.register(checks.Tags.compatibility)
def check_cycle_timing(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Two cycles never share a bot only while lease > task timeout > cycle deadline."""
    return [
        checks.Error(problem, hint="Raise BOTCORE_LEASE_SECONDS or lower VIBE_Q_TIMEOUT.", id="botcore.E001")
        for problem in conf.check_cycle_timing()
    ]
