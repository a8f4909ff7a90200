"""A portal's preferences: the same answer whether read with the portal or in a query of their own."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import Portal, PortalSettings
from tenants.selectors import PortalPreferences, get_portal_preferences

pytestmark = pytest.mark.django_db


@pytest.fixture
def portal() -> Portal:
    return Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")


def read_with_settings(portal: Portal) -> Portal:
    return Portal.objects.select_related("settings").get(pk=portal.pk)


def test_preferences_read_with_the_portal_cost_no_query_and_match_the_stored_ones(portal):
    PortalSettings.objects.create(portal=portal, language="ru", timezone="Europe/Moscow", bot_name="Вайб")
    stored = PortalPreferences(language="ru", timezone="Europe/Moscow", bot_name="Вайб")
    read = read_with_settings(portal)

    with CaptureQueriesContext(connection) as statements:
        assert get_portal_preferences(read) == stored
    assert statements.captured_queries == []
    assert get_portal_preferences(Portal.objects.get(pk=portal.pk)) == stored  # asked for
    assert get_portal_preferences(portal.pk) == stored


def test_a_portal_without_settings_has_the_defaults_either_way(portal):
    read = read_with_settings(portal)

    with CaptureQueriesContext(connection) as statements:
        assert get_portal_preferences(read) == PortalPreferences()
    assert statements.captured_queries == []
    assert get_portal_preferences(portal) == PortalPreferences()


def test_blank_stored_preferences_read_as_the_defaults_either_way(portal):
    PortalSettings.objects.create(portal=portal, language="", timezone="", bot_name="")

    assert get_portal_preferences(read_with_settings(portal)) == PortalPreferences()
    assert get_portal_preferences(portal) == PortalPreferences()
