"""Who is looking at the app: the verified portal user remembered in the Django session."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass

from django.conf import settings
from django.http import HttpRequest

from tenants.models import Portal

SESSION_KEY = "tenants_viewer"


@dataclass(frozen=True)
class Viewer:
    member_id: str
    bitrix_user_id: int
    name: str
    is_admin: bool
    token_digest: str  # an HMAC of the last verified token: tells a new token from the known one, reveals nothing

    def portal(self) -> Portal | None:
        return Portal.objects.filter(member_id=self.member_id).first()


def token_digest(token: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), token.encode(), hashlib.sha256).hexdigest()


def remember_viewer(request: HttpRequest, viewer: Viewer) -> None:
    request.session.cycle_key()  # a new identity gets a new session id (no fixation)
    request.session[SESSION_KEY] = asdict(viewer)


def find_viewer(request: HttpRequest) -> Viewer | None:
    data = request.session.get(SESSION_KEY)
    return Viewer(**data) if data else None


def forget_viewer(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
