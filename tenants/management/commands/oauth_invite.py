"""`manage.py oauth_invite`: print a sign-in link that starts the OAuth redirect (/oauth/start/?invite=…).

/oauth/start/ refuses visitors without an invitation, because the platform's authorize URL carries the app
key. Hand the link to a portal's admin whose session was lost and who cannot open the app from Bitrix24.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from tenants import oauth


class Command(BaseCommand):
    help = "Print an invitation link to the OAuth sign-in (good for TENANTS_OAUTH_INVITE_MAX_AGE seconds)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", required=True, help="where the web app is reached, e.g. https://app.example.com"
        )
        parser.add_argument(
            "--portal", default="", help="the portal's member_id: the link then signs in to that portal only"
        )

    def handle(self, *args: Any, base_url: str, portal: str, **options: Any) -> None:
        invite = oauth.issue_invite(member_id=portal)
        hours = settings.TENANTS_OAUTH_INVITE_MAX_AGE / 3600
        self.stdout.write(f"{base_url.rstrip('/')}/oauth/start/?{urlencode({'invite': invite})}")
        self.stdout.write(f"(good for {hours:.0f} h)")
