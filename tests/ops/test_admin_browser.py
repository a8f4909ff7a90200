"""An operator in a real browser: signs in, opens the fleet dashboard from the admin index, follows a figure
to its rows, and steers a portal (renewal reminder, uninstall with confirmation) from the portal list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from botcore.models import Bot, EventLogEntry
from tenants.models import Portal, SessionGrant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in_operator(live_server, browser_page, settings):
    settings.VIBE_APP_KEY, settings.VIBE_BASE_URL, settings.VIBE_MAX_ATTEMPTS = (
        "vibe_app_" + "b" * 40,
        "http://127.0.0.1:9/v1",
        1,
    )
    get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", "pw-for-tests-only")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def acme():
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    SessionGrant.objects.create(
        portal=portal,
        bitrix_user_id=1,
        user_name="Alice",
        is_admin=True,
        source="gateway",
        token="vibe_session_" + "q" * 30,
        expires_at=timezone.now() + timedelta(hours=2),
    )
    bot = Bot.objects.create(
        portal=portal, code="b", name="Acme bot", status=Bot.Status.ACTIVE, vibe_bot_id=3
    )
    EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=1,
        event_type="ONIMBOTV2MESSAGEADD",
        payload={},
        received_at=timezone.now() - timedelta(minutes=2),
    )
    return portal


def test_the_dashboard_from_the_index_and_a_figure_to_its_rows(signed_in_operator, acme, live_server):
    page = signed_in_operator
    page.get_by_test_id("fleet-link").get_by_role("link").click()
    page.get_by_test_id("fleet").wait_for()
    assert page.get_by_test_id("sessions-expiring").inner_text() == "1"
    assert page.locator("svg.ops-chart").count() >= 4
    page.get_by_test_id("backlog").click()
    page.wait_for_url("**/admin/botcore/eventlogentry/**")
    assert "1 event log" in page.content() or page.locator("#result_list tbody tr").count() == 1


def test_portal_actions_from_the_list(signed_in_operator, acme, live_server):
    page = signed_in_operator
    page.goto(f"{live_server.url}/admin/tenants/portal/")
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "send_renewal_reminder")
    page.click("button[name=index]")
    assert "reminder queued for 1 admin(s)" in page.locator("ul.messagelist").inner_text()

    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "uninstall_portals")
    page.click("button[name=index]")
    assert "acme.bitrix24.com" in page.get_by_test_id("uninstall-portals").inner_text()
    page.get_by_test_id("confirm-uninstall").click()
    assert "uninstalled" in page.locator("ul.messagelist").inner_text()
    assert Portal.objects.get().status == Portal.Status.UNINSTALLED


def test_every_admin_list_and_form_runs_its_scripts_within_the_pages_policy(
    signed_in_operator, acme, live_server
):
    """The admin's scripts come from its static files, so the Content-Security-Policy (no inline script) lets
    them run; browser_page fails the test on any refusal."""
    from django.contrib import admin
    from django.urls import reverse

    page = signed_in_operator
    for model in admin.site._registry:
        meta = model._meta
        page.goto(live_server.url + reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        rows = page.locator("#result_list tbody tr th a")
        if rows.count():
            page.goto(live_server.url + rows.first.get_attribute("href"))
    page.goto(f"{live_server.url}/admin/tenants/portal/")
    page.locator("#action-toggle").check()  # actions.js: every row's box with it
    assert page.locator("input.action-select:checked").count() == Portal.objects.count()
