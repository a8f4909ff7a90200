"""Shared fixtures: the sandbox on loopback, and a guard that keeps tests off every other network."""

from __future__ import annotations

import functools
import math
import os
import ssl
import time

import httpx._transports.default as httpx_transports
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.cache import caches
from django.utils import translation

from botcore.vibe import template_ids
from sandbox.runner import SandboxThread
from tests.netguard import NetworkGuard


def pytest_configure(config):
    """Each xdist worker its own task queue (tests/taskqueue.py), before any test enqueues."""
    from tests.taskqueue import give_this_worker_a_queue_of_its_own

    give_this_worker_a_queue_of_its_own()


def pytest_collection_modifyitems(items):
    """A browser test starts chromium, a real process: it is slow too, so `-m "not slow"` leaves it out."""
    for item in items:
        if item.get_closest_marker("browser") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


# Fixed for the whole run so rows written by one test's fixtures stay readable in the next.
TEST_FERNET_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True, scope="session")
def _one_tls_context_per_settings():
    """httpx builds a TLS context (loading the whole CA bundle, ~30 ms) for every client, even one that only
    ever talks plain HTTP to the loopback sandbox; in a fast test that was most of its time. Here every
    client with the same TLS settings shares one context. Tests only: production code is unchanged."""
    original = httpx_transports.create_ssl_context
    shared = functools.lru_cache(maxsize=None)(original)

    def create_ssl_context(verify=True, cert=None, trust_env=True) -> ssl.SSLContext:
        try:
            return shared(verify=verify, cert=cert, trust_env=trust_env)
        except TypeError:  # settings that cannot be a cache key (an SSLContext is returned as given anyway)
            return original(verify=verify, cert=cert, trust_env=trust_env)

    httpx_transports.create_ssl_context = create_ssl_context
    yield
    httpx_transports.create_ssl_context = original


@pytest.fixture(scope="session")
def _network_guard_installed():
    guard = NetworkGuard()
    guard.install()
    yield guard
    guard.uninstall()


@pytest.fixture(autouse=True)
def network_guard(_network_guard_installed):
    """Fails the test if anything in this process opened a connection to a host that is not loopback.

    The attempt itself raises NetworkGuardError (an OSError, as a refused connection would be); the test
    fails at teardown even when the code under test caught it. Processes a test starts are not covered.
    """
    guard = _network_guard_installed
    guard.attempts.clear()
    yield guard
    if guard.attempts:
        reached = ", ".join(sorted(set(guard.attempts)))
        guard.attempts.clear()
        pytest.fail(f"the test reached for the network beyond loopback: {reached}", pytrace=False)


@pytest.fixture(autouse=True)
def _test_fernet_keys(settings):
    """Tests never touch the developer's local key under var/."""
    settings.TENANTS_FERNET_KEYS = [TEST_FERNET_KEY]


@pytest.fixture
def task_queue(transactional_db):
    """The real django-q2 queue on the configured broker; `run()` works the queued tasks off.

    Transactional: a worker sees only committed rows, and tasks are enqueued on commit.
    """
    from tests.taskqueue import BrokerQueue

    queue = BrokerQueue()
    queue.purge()
    yield queue
    queue.purge()


@pytest.fixture(scope="session")
def sandbox_server():
    server = SandboxThread(gateway=False).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """A running sandbox, emptied before each test."""
    sandbox_server.reset()
    # The platform's default is 10 requests/s per key (tests of the limit set it back); most tests make
    # bursts of calls that are not about rate limiting and would otherwise be paced by it.
    sandbox_server.run_in_loop(lambda services: setattr(services.platform, "default_rate_limit", 1000.0))
    return sandbox_server


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():
    """Debian's chromium driven by Playwright; never a downloaded browser.

    Module-scoped: while Playwright's sync API runs, its event loop is this thread's running loop, so a
    session-wide browser would make every later test's `asyncio.run` fail on the same thread."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (make test installs it)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls tests make around it are
    # plain blocking calls, not coroutines, so Django's async guard does not apply to them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium):
    """A page in a fresh context; the test fails if anything it opened broke its Content-Security-Policy (the
    app's, vibeapp/settings.py, or the sandbox's): chromium reports each refusal on the console."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    refused: list[str] = []
    context.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
    assert refused == []


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings, monkeypatch):
    """Counters in a cache of their own, empty: never a flush of the shared cache (Redis in CI). For every
    test: the app's pages count gateway visits per address, and one test's must not refuse the next's.

    Each rate's windows start with the test: django-ratelimit's start at a moment fixed by the key, which a
    test counting a burst crossed now and then (5 of "3/m" let through, a new window in mid-burst). A test
    that travels in time (time_machine) still reaches the windows after."""
    started = int(time.time())  # whole seconds, as django-ratelimit's windows are (its time_left is an int)

    def window_from_the_test_start(value, period):
        return started + period * (math.floor((time.time() - started) / period) + 1)

    monkeypatch.setattr("django_ratelimit.core._get_window", window_from_the_test_start)
    monkeypatch.setattr("vibeapp.failure_limits._get_window", window_from_the_test_start)
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "test-ratelimit",
        },
    }
    settings.RATELIMIT_USE_CACHE = "ratelimit"
    caches["ratelimit"].clear()
    yield
    caches["ratelimit"].clear()


@pytest.fixture(autouse=True)
def default_language():
    """Each test in the default language: a page asked for in Russian (Accept-Language, a viewer's locale)
    left Russian active in the thread for the tests after it (LocaleMiddleware activates, and nothing
    deactivates after the test client's request), so a test comparing English text passed or failed by the
    order run."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def fresh_app_key_checks():
    """What a process learned of whether the platform takes the app key alone (botcore.vibe.identity)."""
    from botcore.vibe.identity import forget_app_key_checks

    forget_app_key_checks()
    yield
    forget_app_key_checks()


@pytest.fixture(autouse=True)
def fresh_held_polls():
    """What a process learned of whether the platform holds a poll asking for no hold (events endpoint)."""
    from botcore.vibe.endpoints.events import forget_held_polls

    forget_held_polls()
    yield
    forget_held_polls()


@pytest.fixture(autouse=True)
def fresh_template_readings():
    """What a process learned of the platform's templateIds (botcore.vibe.template_ids) is per platform
    base URL, and every test meets the one sandbox at the same URL, in whichever dialect it chose."""
    template_ids.forget()
    yield
    template_ids.forget()
