"""The portal page speaks the viewer's language (their browser's), else the portal's, never a mix."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation

from tenants.models import PortalSettings
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db

ENGLISH_ON_THE_PAGE = [
    "Portal settings",
    "Unattended running",
    "Bot name",
    "Time zone",
    "Skills",
    ">Save<",
    "Turn on",
]


@pytest.fixture(autouse=True)
def _no_language_left_behind():
    """A request activates its reader's language in this thread (tenants.locale): the last one's would be
    every later test's."""
    yield
    translation.deactivate()


@pytest.fixture
def russian_portal():
    portal = make_portal("acme")
    PortalSettings.objects.create(portal=portal, language="ru")
    return portal


def test_a_russian_reader_gets_the_whole_page_in_russian(russian_portal):
    page = signed_in(russian_portal, is_admin=True).get("/portal/", HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9")
    text = page.content.decode()
    assert page["Content-Language"] == "ru" and '<html lang="ru">' in text
    assert "Настройки портала" in text and "Имя бота" in text and "Навыки" in text
    assert [phrase for phrase in ENGLISH_ON_THE_PAGE if phrase in text] == []


def test_an_english_reader_of_a_russian_portal_gets_english(russian_portal):
    page = signed_in(russian_portal, is_admin=True).get("/portal/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "en" and "Portal settings" in page.content.decode()


def test_a_reader_of_a_language_the_app_lacks_gets_the_portals(russian_portal):
    page = signed_in(russian_portal, is_admin=True).get("/portal/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert page["Content-Language"] == "ru" and "Настройки портала" in page.content.decode()


def test_form_errors_come_in_the_readers_language(russian_portal):
    page = signed_in(russian_portal, is_admin=True).post(
        "/portal/",
        {"action": "settings", "language": "ru", "timezone": "Mars/Olympus"},
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    assert page.status_code == 400 and "Неизвестный часовой пояс" in page.content.decode()
    refused = signed_in(russian_portal, is_admin=True).post(
        "/portal/skills/standup/", {"chat": "chat3", "ask_at": "25:00"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert refused.status_code == 400 and "должно быть временем суток" in refused.content.decode()


def test_a_refused_sign_in_link_is_said_in_the_readers_language():
    """From a security trial: the refusal of a sign-in link that is not ours came in English on a Russian
    page (its text was never marked for translation), and sent the reader to a sign-in link in their renewal
    reminder, which links to the app, not to a sign-in."""
    page = Client().get("/oauth/start/", {"invite": "forged"}, HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert page.status_code == 403 and page["Content-Language"] == "ru"
    assert "Эта ссылка для входа недействительна" in text and "Open the app" not in text
    assert "reminder" not in Client().get("/oauth/start/", {"invite": "forged"}).content.decode()


def test_the_sessions_end_is_shown_on_the_portals_clock():
    """It said "until 2026-12-07 06:51 UTC" to an admin whose portal runs on Kolkata's clock (time trial)."""
    from zoneinfo import ZoneInfo

    from tenants.models import SessionGrant

    portal = make_portal("acme")
    PortalSettings.objects.create(portal=portal, timezone="Asia/Kolkata")
    client = signed_in(portal, is_admin=True)
    ends = SessionGrant.objects.get(portal=portal).expires_at.astimezone(ZoneInfo("Asia/Kolkata"))
    text = client.get("/portal/").content.decode()
    assert f"until {ends:%Y-%m-%d %H:%M} (Asia/Kolkata)" in text, text


def test_a_russian_reader_gets_dates_as_russians_write_them():
    """From a Russian-language trial: "до 2026-12-07 13:19" and "хранятся до 2027-01-05" on Russian pages,
    where a Russian reader writes 07.12.2026 13:19 and 5 января 2027."""
    from zoneinfo import ZoneInfo

    from tenants.models import Portal, SessionGrant

    portal = make_portal("acme")
    PortalSettings.objects.create(portal=portal, language="ru", timezone="Europe/Moscow")
    client = signed_in(portal, is_admin=True)
    ends = SessionGrant.objects.get(portal=portal).expires_at.astimezone(ZoneInfo("Europe/Moscow"))
    text = client.get("/portal/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert f"до {ends:%d.%m.%Y %H:%M} (Europe/Moscow)" in text, text

    done = client.post("/portal/uninstall/", {"confirm": portal.domain}, HTTP_ACCEPT_LANGUAGE="ru")
    assert done.status_code == 302
    shown = client.get(done["Location"], HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    day = Portal.objects.get().purge_after
    months = ["января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
              "ноября", "декабря"]  # fmt: skip
    assert f"хранятся до {day.day} {months[day.month - 1]} {day.year}" in shown, shown


def test_a_page_no_route_takes_is_in_the_readers_language():
    """Django's own 404 page ("Not Found … The requested resource was not found on this server.") is
    English whatever the reader asked for."""
    page = Client().get("/portal/no-such-page/", HTTP_ACCEPT_LANGUAGE="ru")
    text = page.content.decode()
    assert page.status_code == 404 and '<html lang="ru">' in text
    assert "Страница не найдена" in text and "Not Found" not in text
