"""The portal's pages on a phone: Bitrix24's mobile app shows the app's frame full-width, 360-414 px wide. In
Russian, with a long name, nothing may sit past the screen's edge or need a sideways scroll."""

from __future__ import annotations

import pytest

from tests.botcore.skills.test_portal_admin import make_portal, signed_in
from tests.tenants.browser_session import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every element wider inside than it shows (a sideways scroll, or text running past its edge), and every
# button or link whose box leaves the screen.
CUT_OFF = """() => {
  const width = document.documentElement.clientWidth, found = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) found.push(`${el.tagName} scrolls`);
  }
  for (const el of document.querySelectorAll('a, button, input, select')) {
    const box = el.getBoundingClientRect();
    if (box.width && (box.left < 0 || box.right > width)) found.push(`${el.tagName} ${el.textContent}`);
  }
  return found;
}"""


@pytest.mark.parametrize("width", [360, 414])
def test_the_portal_page_fits_a_phone_in_russian(live_server, chromium, width):
    """From a phone trial: the skills table was wider than the card, its Turn on/off buttons cut at the edge
    and its Settings links out of sight behind a sideways scroll; a portal name of one long word (a domain
    where the portal has no name) ran past the screen."""
    portal = make_portal("m-phone")
    portal.name = "МеждународныйХолдингСевероЗападныеТехнологии"
    portal.save(update_fields=["name"])
    signed_in(portal, is_admin=True)  # the admin's live grant
    context = chromium.new_context(
        viewport={"width": width, "height": 740}, locale="ru-RU", extra_http_headers={"Accept-Language": "ru"}
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        sign_in_browser(
            page, url=live_server.url, member_id=portal.member_id, user_id=1, name="Alice", is_admin=True
        )
        page.goto(f"{live_server.url}/portal/")
        assert page.evaluate("document.documentElement.lang") == "ru"
        assert page.get_by_test_id("configure-standup").is_visible()
        assert page.evaluate(CUT_OFF) == []
        # Settings sits beside the switch: as tall as it, not an 18 px line a finger misses for Turn on.
        settings_link = page.get_by_test_id("configure-standup").bounding_box()
        switch = page.get_by_test_id("switch-standup").bounding_box()
        assert settings_link is not None and switch is not None
        assert settings_link["height"] >= switch["height"] - 1
        page.get_by_test_id("configure-standup").click()
        page.get_by_test_id("save-skill").wait_for()
        assert page.evaluate(CUT_OFF) == []
    finally:
        context.close()


def test_the_remove_key_tick_box_sits_beside_its_words(live_server, browser_page):
    """From a trial: the portal page's inputs are as wide as the card, tick boxes too, so the one that
    confirms removing the key stood alone in the middle of the card above its words."""
    from tenants.models import PortalApiKey

    portal = make_portal("m-tick")
    signed_in(portal, is_admin=True)
    PortalApiKey.objects.create(
        portal=portal, key="vibe_api_" + "k" * 32, key_hint="vibe_api_…kkkk", added_by_user_id=1
    )
    page = browser_page
    sign_in_browser(
        page, url=live_server.url, member_id=portal.member_id, user_id=1, name="Alice", is_admin=True
    )
    page.goto(f"{live_server.url}/portal/")
    box = page.get_by_test_id("confirm-remove-key").bounding_box()
    label = page.get_by_test_id("confirm-remove-key").locator("xpath=..").bounding_box()
    assert box is not None and label is not None
    assert box["width"] < 40 and box["x"] - label["x"] < 10  # at the start of its line, where its words begin


def test_the_keyboard_focus_is_drawn_plainly_on_every_control(live_server, browser_page):
    """From a keyboard trial: the focus was the browser's default ring, in Debian's chromium a thin orange
    line (2.2:1 on the white cards, WCAG asks 3:1), hard to find on the blue buttons."""
    portal = make_portal("m-focus-ring")
    signed_in(portal, is_admin=True)
    page = browser_page
    sign_in_browser(
        page, url=live_server.url, member_id=portal.member_id, user_id=1, name="Alice", is_admin=True
    )
    page.goto(f"{live_server.url}/portal/")
    rings = set()
    for _ in range(12):  # the skills' switches and Settings link, the settings, key and uninstall forms
        page.keyboard.press("Tab")
        rings.add(
            tuple(
                page.evaluate(
                    "() => { const s = getComputedStyle(document.activeElement);"
                    " return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"
                )
            )
        )
    assert rings == {("solid", "3px", "rgb(47, 111, 237)")}
