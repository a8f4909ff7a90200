"""The demo world `runsandbox --demo` starts with: one portal, three users and the catalog app for them."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.records import ApiKey, App, Portal, User
from sandbox.state import IMBOT_SCOPES, Platform

DEMO_DOMAIN = "demo.bitrix24.com"
DEMO_PORTAL_NAME = "Demo portal"
DEMO_APP_NAME = "Vibe demo app"
# (name, is_admin, language, work position): an admin, and two members one of whom reads Russian.
DEMO_USERS = (
    ("Alice Admin", True, "en", "Portal administrator"),
    ("Boris Ivanov", False, "ru", "Sales manager"),
    ("Carol Member", False, "en", "Support engineer"),
)


@dataclass
class Demo:
    portal: Portal
    users: list[User]  # in DEMO_USERS order: the admin first
    app: App
    app_key: str  # the app's vibe_app_ key value


def find_demo(platform: Platform, app_key: str) -> Demo | None:
    """The demo a restored platform already holds for `app_key` (runsandbox --state-file), if any."""
    key = platform.keys.get(app_key)
    portal = next((p for p in platform.portals.values() if p.domain == DEMO_DOMAIN), None)
    if key is None or key.app_id is None or portal is None:
        return None
    users = sorted(
        (u for u in platform.users.values() if u.portal_id == portal.id), key=lambda u: (not u.is_admin, u.id)
    )
    return Demo(portal=portal, users=users, app=platform.apps[key.app_id], app_key=app_key)


def seed_demo(platform: Platform, app_key: str | None = None) -> Demo:
    """Add the demo portal, its users and the demo app to `platform`.

    `app_key` fixes the app's key value, so a backend started beside the sandbox can be told its key in
    advance (runstack does this); it must start with vibe_app_ and not be taken. Without it the key is random.
    """
    if app_key is not None and (not app_key.startswith("vibe_app_") or len(app_key) <= len("vibe_app_")):
        raise ValueError("the demo app key must start with vibe_app_")
    if app_key is not None and app_key in platform.keys:
        raise ValueError("the demo app key is already issued on this platform")
    portal = platform.create_portal(domain=DEMO_DOMAIN, name=DEMO_PORTAL_NAME)
    users = [
        platform.create_user(portal, name=name, is_admin=is_admin, language=language, work_position=position)
        for name, is_admin, language, position in DEMO_USERS
    ]
    # `user`: the app's forms list the portal's people (GET /v1/users) for an admin to pick from.
    app, key = platform.create_app(name=DEMO_APP_NAME, scopes=IMBOT_SCOPES | {"user"})
    if app_key is not None:
        # Swap the random key create_app issued for the chosen one.
        del platform.keys[key.value]
        key = ApiKey(value=app_key, kind="app", scopes=app.scopes, app_id=app.id)
        platform.keys[key.value] = key
    return Demo(portal=portal, users=users, app=app, app_key=key.value)
