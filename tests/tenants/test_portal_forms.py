"""The portal page's forms speak to people: a refused key says the key is bad, a save says Saved."""
from __future__ import annotations

import pytest

from tests.botcore.skills.test_portal_admin import make_portal, signed_in
from tests.fakes import make_identity

pytestmark = pytest.mark.django_db


def test_a_key_the_platform_refuses_says_the_key_is_bad_not_the_user(fake_identity):
    portal = make_portal("acme")
    page = signed_in(portal, is_admin=True).post("/portal/", {"action": "api_key", "api_key": "vibe_api_typo"})
    text = page.content.decode()
    assert page.status_code == 400
    assert "did not accept this key" in text
    assert "could not verify who you are" not in text
    assert 'name="api_key"' in text  # the form is still there to try again


def test_a_good_key_and_saved_settings_say_so(fake_identity):
    portal = make_portal("acme")
    fake_identity.api_keys["vibe_api_good"] = make_identity(member_id="acme")
    admin = signed_in(portal, is_admin=True)
    saved = admin.post("/portal/", {"action": "api_key", "api_key": "vibe_api_good"}, follow=True)
    assert 'data-testid="notice"' in saved.content.decode() and "Key saved." in saved.content.decode()
    saved = admin.post("/portal/", {"action": "settings", "language": "en", "timezone": "UTC", "bot_name": "Hi"}, follow=True)
    assert "Saved." in saved.content.decode()
