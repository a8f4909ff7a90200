"""Every page names the app's icon, so a browser never asks the server for /favicon.ico: each such request was
a 404 and a warning in the log, for every portal user who opened the app."""

from __future__ import annotations

import logging
import time

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

# The app's own pages (templates/base.html) and the admin's (templates/admin/base_site.html).
PAGES = ["/", "/admin/login/"]


@pytest.mark.parametrize("url", PAGES)
def test_the_page_declares_the_apps_icon(url):
    page = Client().get(url).content.decode()
    assert page.count('rel="icon"') == 1 and 'href="data:image/svg+xml,' in page


@pytest.mark.browser
def test_a_real_browser_asks_for_no_favicon(live_server, browser_page, caplog):
    caplog.set_level(logging.WARNING, logger="django.request")
    for url in PAGES:
        browser_page.goto(f"{live_server.url}{url}")
        browser_page.wait_for_load_state("load")
    # Chromium asks for /favicon.ico just after a page without an icon has loaded, unseen by the page's own
    # request events; the server's 404 warning is where it shows. A second is ample on loopback.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and "favicon" not in caplog.text:
        time.sleep(0.05)
    assert "favicon" not in caplog.text
