"""`manage.py ensure_schedules`: create or update, by name, every django-q2 schedule the project needs."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from botcore.schedules import ensure_schedules as ensure_botcore_schedules
from ops.schedules import ensure_schedules as ensure_ops_schedules
from tenants.schedules import ensure_schedules as ensure_tenants_schedules


class Command(BaseCommand):
    help = "Create or update the project's django-q2 schedules (idempotent; run once per deploy)."

    def handle(self, *args, **options):
        ensure_tenants_schedules()
        ensure_botcore_schedules()
        ensure_ops_schedules()
        self.stdout.write("Schedules are up to date.")
