"""Sign a browser in as a portal user the way the app remembers one: a Django session holding the Viewer."""

from __future__ import annotations

from dataclasses import asdict
from importlib import import_module

from django.conf import settings

from tenants.models import SessionGrant
from tenants.viewer import SESSION_KEY, Viewer


def sign_in_browser(page, *, url: str, member_id: str, user_id: int, name: str, is_admin: bool) -> None:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    # The app re-checks the viewer's grant on every request: the session names the user's live grant.
    grant = SessionGrant.objects.get(portal__member_id=member_id, bitrix_user_id=user_id)
    viewer = Viewer(
        member_id=member_id,
        bitrix_user_id=user_id,
        name=name,
        is_admin=is_admin,
        token_digest="",
        grant_id=grant.pk,
    )
    store[SESSION_KEY] = asdict(viewer)
    store.create()
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": url}])
