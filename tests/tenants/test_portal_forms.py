"""The portal page's forms speak to people: a refused key says the key is bad, a save says Saved.

Keys are checked by the sandbox's own GET /v1/me, as in production."""

from __future__ import annotations

import pytest

from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db


def test_a_key_the_platform_refuses_says_the_key_is_bad_not_the_user(platform):
    portal = make_portal(platform.member_id)
    page = signed_in(portal, is_admin=True).post(
        "/portal/", {"action": "api_key", "api_key": "vibe_api_typo"}
    )
    text = page.content.decode()
    assert page.status_code == 400
    assert "did not accept this key" in text
    assert "could not verify who you are" not in text
    assert 'name="api_key"' in text  # the form is still there to try again


def test_the_key_form_says_the_bot_leaves_its_group_chats(platform):
    """From a portal admin's trial: saving a key registered a new bot, which was in none of the old chats, and
    nothing said so before the standup's settings said the bot was not in its chat."""
    page = signed_in(make_portal(platform.member_id), is_admin=True).get("/portal/").content.decode()
    assert 'data-testid="key-moves-bot"' in page and "leaves the group chats it was in" in page


def test_a_good_key_and_saved_settings_say_so(platform):
    portal = make_portal(platform.member_id)
    admin = signed_in(portal, is_admin=True)
    key = platform.personal_key(platform.admin)
    saved = admin.post("/portal/", {"action": "api_key", "api_key": key}, follow=True)
    assert 'data-testid="notice"' in saved.content.decode() and "Key saved." in saved.content.decode()
    saved = admin.post(
        "/portal/", {"action": "settings", "language": "en", "timezone": "UTC", "bot_name": "Hi"}, follow=True
    )
    assert "Saved." in saved.content.decode()


def test_a_time_zone_typed_in_another_case_is_kept_in_its_own_spelling():
    from tenants.forms import PortalSettingsForm

    form = PortalSettingsForm({"language": "en", "timezone": " europe/moscow ", "bot_name": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["timezone"] == "Europe/Moscow"
    assert not PortalSettingsForm({"language": "en", "timezone": "Europe/Nowhere", "bot_name": ""}).is_valid()


def test_the_uninstall_confirmation_takes_the_domain_in_any_case():
    from tenants.forms import UninstallForm

    assert UninstallForm({"confirm": "DEMO.bitrix24.com "}, domain="demo.bitrix24.com").is_valid()
    assert not UninstallForm({"confirm": "demo.bitrix24.co"}, domain="demo.bitrix24.com").is_valid()


def test_removing_a_key_when_there_is_none_says_so():
    """From an outside trial: it said "Key removed." with no key saved."""
    page = signed_in(make_portal("m-nokey"), is_admin=True).post(
        "/portal/", {"action": "remove_api_key", "confirm_remove": "yes"}, follow=True
    )
    text = page.content.decode()
    assert "There was no key to remove." in text and "Key removed." not in text


def test_removing_the_key_asks_first_as_it_moves_the_bot_out_of_its_group_chats(platform):
    """From the last trial: one click on "Remove key" registered the bot anew, out of every group chat."""
    from tenants.models import PortalApiKey

    portal = make_portal(platform.member_id)
    admin = signed_in(portal, is_admin=True)
    admin.post("/portal/", {"action": "api_key", "api_key": platform.personal_key(platform.admin)})
    assert 'name="confirm_remove"' in admin.get("/portal/").content.decode()
    unticked = admin.post("/portal/", {"action": "remove_api_key"}, follow=True).content.decode()
    assert "Tick the box to remove the key." in unticked and "Key removed." not in unticked
    assert PortalApiKey.objects.filter(portal=portal).count() == 1
    ticked = admin.post("/portal/", {"action": "remove_api_key", "confirm_remove": "yes"}, follow=True)
    assert "Key removed." in ticked.content.decode()
    assert not PortalApiKey.objects.filter(portal=portal).exists()


def test_a_double_click_on_remove_key_says_the_key_was_removed(platform):
    """From a trial: the browser shows the second post's answer, and it said "There was no key to remove."
    to the admin who had just removed it. Another browser, or this one once it saved a key again, is told
    the truth of its own form."""
    portal = make_portal(platform.member_id)
    admin = signed_in(portal, is_admin=True)
    admin.post("/portal/", {"action": "api_key", "api_key": platform.personal_key(platform.admin)})
    remove = {"action": "remove_api_key", "confirm_remove": "yes"}
    admin.post("/portal/", remove)
    second = admin.post("/portal/", remove, follow=True).content.decode()
    assert "Key removed." in second and "There was no key to remove." not in second
    other = signed_in(portal, is_admin=True).post("/portal/", remove, follow=True).content.decode()
    assert "There was no key to remove." in other
    admin.post("/portal/", {"action": "api_key", "api_key": platform.personal_key(platform.admin)})
    signed_in(portal, is_admin=True).post("/portal/", remove)  # another browser removes the key saved here
    assert "There was no key to remove." in admin.post("/portal/", remove, follow=True).content.decode()


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("/portal/", {"action": "settings", "language": "en", "timezone": "Mars/Olympus"}, "timezone"),
        ("/portal/", {"action": "api_key", "api_key": "nope"}, "api_key"),
        ("/portal/uninstall/", {"confirm": "other.bitrix24.com"}, "confirm"),
    ],
)
def test_a_refused_portal_form_puts_the_focus_on_its_field(path, data, field):
    """From a trial with a keyboard and a phone: a refused form came back at the page's top with the focus
    nowhere; its error (the uninstall confirmation's, screens down at 360 px) went unseen and unheard."""
    page = signed_in(make_portal("m-focus"), is_admin=True).post(path, data)
    text = page.content.decode()
    assert page.status_code == 400
    tag = text.split(f'id="id_{field}"')[0].rsplit("<", 1)[1]  # the field's own tag, up to its id
    assert "autofocus" in tag and 'aria-invalid="true"' in tag
    assert text.count("autofocus") == 1
    assert data.get(field) == "nope" or f'value="{data[field]}"' in tag  # what was typed is kept (not a key)


def test_the_uninstall_confirmation_names_the_domain_to_type_at_its_field():
    """From a phone and screen reader trial: the hint said "Type the portal's domain", and the domain was
    shown only at the page's top, screens away; the hint names it, escaped (it is the platform's word)."""
    portal = make_portal("m-domain")
    text = signed_in(portal, is_admin=True).get("/portal/").content.decode()
    assert "To confirm, type the portal's domain: m-domain.bitrix24.com" in text
    from tenants.forms import UninstallForm

    assert "<b>" not in str(UninstallForm(domain="<b>x</b>.bitrix24.com")["confirm"].help_text)


def test_each_language_is_offered_marked_as_written_in_it():
    """From a screen reader trial: "Русский" on an English page was read with the English voice."""
    text = signed_in(make_portal("m-lang"), is_admin=True).get("/portal/").content.decode()
    assert '<option value="ru" lang="ru">Русский</option>' in text
    assert '<option value="en" selected lang="en">English</option>' in text
