"""The system checks a process that serves no page runs as it starts (the qcluster, the poller): every check
but the web's. Its URL, template and admin checks import the web's every view and, building the template
engine, every template tag library, DRF's among them and through DRF psycopg: ~0.3 s of CPU of such a
process's ~1 s start-up, restart downtime during which no reply leaves (docs/benchmarks.md, Start-up and
stop). `manage.py check`, `migrate` and the other commands run them all, the web's included."""

from __future__ import annotations

from django.core.checks import Tags

WEB_ONLY = {Tags.urls, Tags.templates, Tags.admin}
# Django's tags (a check with none runs only where every check does: django.contrib.auth's middleware check,
# the web's too); the project's own checks carry one (botcore/checks.py, tenants/checks.py, ops/checks.py).
BACKGROUND_PROCESS_CHECKS = sorted(
    value for name, value in vars(Tags).items() if not name.startswith("_") and value not in WEB_ONLY
)
