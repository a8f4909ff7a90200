"""The operators' admin in Russian: an operator whose browser asks for Russian saw Django's own words in
Russian and the app's own (models, columns, filters, actions, messages, the fleet dashboard) in English."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from botcore.models import Bot
from tests.ops.test_admin import make_portal

pytestmark = pytest.mark.django_db

CYRILLIC = re.compile("[\u0400-\u04ff]")
# Words that stay as they are in Russian: Bitrix24's own term.
KEPT = {"member id"}


def in_russian(operator: Client, url: str, **data) -> str:
    answer = (
        operator.post(url, data, follow=True, HTTP_ACCEPT_LANGUAGE="ru")
        if data
        else operator.get(url, HTTP_ACCEPT_LANGUAGE="ru")
    )
    assert answer.status_code == 200
    return answer.content.decode()


def english_left(labels: list[str]) -> list[str]:
    return [
        label
        for label in labels
        if label.strip() and label.strip().lower() not in KEPT and not CYRILLIC.search(label)
    ]


def list_labels(page: str) -> list[str]:
    """What a list page names in its own words: the title, its columns, its filters, its actions."""
    title = re.findall(r"<h1>([^<]*)</h1>", page)
    columns = re.findall(
        r'<th scope="col"[^>]*>.*?<div class="text">(?:<a [^>]*>|<span>)?([^<]*)<', page, re.S
    )
    filters = re.findall(r'data-filter-title="([^"]*)"', page)
    actions = re.search(r'<select name="action"[^>]*>(.*?)</select>', page, re.S)
    options = re.findall(r'<option value="[^"]+"[^>]*>([^<]*)</option>', actions.group(1)) if actions else []
    return [*title, *columns, *filters, *options]


@pytest.mark.parametrize(
    "model",
    [
        "tenants/portal",
        "tenants/sessiongrant",
        "tenants/portalapikey",
        "tenants/portalsettings",
        "botcore/bot",
        "botcore/eventlogentry",
        "botcore/skillconfig",
        "botcore/skillrun",
        "botcore/conversationstate",
    ],
)
def test_each_list_speaks_russian_to_a_russian_operator(operator, model):
    portal = make_portal(1)
    Bot.objects.create(portal=portal, code="b", name="Bot", status=Bot.Status.ACTIVE, vibe_bot_id=1)
    labels = list_labels(in_russian(operator, f"/admin/{model}/"))
    assert labels and not english_left(labels), english_left(labels)


def test_the_admin_index_names_the_apps_and_models_in_russian(operator):
    page = in_russian(operator, "/admin/")
    names = re.findall(r'<a href="/admin/(?:tenants|botcore)/[^"]*"[^>]*>([^<]+)</a>', page)
    names += re.findall(r'<caption>\s*<a href="/admin/(?:tenants|botcore)/"[^>]*>([^<]+)</a>', page)
    assert names and not english_left(names), english_left(names)
    assert "Сводка по парку" in page


def test_a_bots_change_page_names_its_fields_in_russian(operator):
    portal = make_portal(1)
    bot = Bot.objects.create(portal=portal, code="b", name="Bot", status=Bot.Status.ACTIVE, vibe_bot_id=1)
    page = in_russian(operator, f"/admin/botcore/bot/{bot.pk}/change/")
    labels = re.findall(r"<label[^>]*>([^<]+):</label>", page)
    assert labels and not english_left(labels), english_left(labels)
    shown = re.findall(r'<div class="readonly">([^<]*)</div>', page)
    assert "Работает" in shown and "Active" not in shown  # the bot's status


def test_an_actions_messages_speak_russian(operator):
    portal = make_portal(1)
    bot = Bot.objects.create(portal=portal, code="b", name="Bot", status=Bot.Status.ACTIVE, vibe_bot_id=1)
    page = in_russian(operator, "/admin/botcore/bot/", action="pause_bots", _selected_action=[bot.pk])
    assert "Приостановлено ботов: 1." in page
    page = in_russian(
        operator, "/admin/tenants/portal/", action="reverify_session", select_across=1, _selected_action=[1]
    )
    assert "Перепроверка спрашивает платформу" not in page  # one portal: not refused
    page = in_russian(
        operator, "/admin/tenants/portal/", action="send_renewal_reminder", _selected_action=[portal.pk]
    )
    assert "напоминание от бота поставлено в очередь" in page


def test_the_fleet_dashboard_speaks_russian(operator):
    make_portal(1)
    page = in_russian(operator, "/admin/fleet/")
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings and not english_left(headings), english_left(headings)
    assert "Парк" in page and "руководство оператора" in page


def test_a_recent_window_reads_as_a_russian_would_say_it(operator):
    """The session filter's choices said "в течение 24h": the hours as a whole phrase of each language."""
    page = in_russian(operator, "/admin/tenants/portal/")
    choices = re.findall(r'href="\?session_expires=[^"]*"[^>]*>([^<]*)<', page)
    assert choices and not [choice for choice in choices if re.search(r"\d+h\b", choice)], choices
