"""Log lines as JSON carry portal, bot, event and the gateway's request id; secrets never reach a line; an
idle bot's task chatter stays below INFO; text stays the development default."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.test import Client

from ops.logs import bind_log_context, build_logging, clear_log_context, log_context


@pytest.fixture
def log_output():
    """The project's JSON logging config with its console writing into a buffer; the test's config restored
    after."""

    def configure(fmt: str) -> io.StringIO:
        logging.config.dictConfig(build_logging(fmt=fmt, level="INFO"))
        buffer = io.StringIO()
        for handler in logging.getLogger().handlers:
            handler.setStream(buffer)
        return buffer

    yield configure
    clear_log_context()
    logging.config.dictConfig(django_settings.LOGGING)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_the_bound_context(log_output):
    buffer = log_output("json")
    with log_context(portal="member-1", bot=7):
        bind_log_context(event=42)
        logging.getLogger("botcore.test").warning("handled %s", "it")
    [line] = lines(buffer)
    assert line["message"] == "handled it" and line["level"] == "WARNING" and line["logger"] == "botcore.test"
    assert (line["portal"], line["bot"], line["event"]) == ("member-1", 7, 42)


def test_text_stays_the_default_and_appends_the_context(log_output):
    assert django_settings.VIBE_LOG_FORMAT == "text"
    buffer = log_output("text")
    with log_context(portal="member-1"):
        logging.getLogger("x").warning("hello")
    assert buffer.getvalue().rstrip().endswith("WARNING x hello portal=member-1")


def test_text_does_not_repeat_a_pair_the_message_already_says(log_output):
    buffer = log_output("text")
    with log_context(task="poll_bot", bot=1, portal="member-1"):
        logging.getLogger("x").info("cycle bot=1 portal=member-1 stored=2 handled=2")
        logging.getLogger("x").info("handed on bot=10 portal=member-2")
    first, second = buffer.getvalue().splitlines()
    assert first.endswith("x cycle bot=1 portal=member-1 stored=2 handled=2 task=poll_bot")
    # Another value is another fact: bot=10 is not bot=1.
    assert second.endswith("x handed on bot=10 portal=member-2 portal=member-1 bot=1 task=poll_bot")


def test_json_keeps_every_bound_field_even_when_the_message_says_it(log_output):
    buffer = log_output("json")
    with log_context(bot=1, portal="member-1"):
        logging.getLogger("x").info("cycle bot=1 portal=member-1")
    [line] = lines(buffer)
    assert (line["bot"], line["portal"]) == (1, "member-1") and "bound_context" not in line


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_are_redacted_whoever_logs_them(log_output, fmt):
    buffer = log_output(fmt)
    secrets = ["vibe_app_" + "a1" * 20, "vibe_session_" + "b2" * 20, "vibe_api_" + "c3" * 20]
    logging.getLogger("careless").error("keys %s %s, header Bearer %s", *secrets[:2], secrets[2])
    try:
        raise RuntimeError(f"failed with {secrets[0]}")
    except RuntimeError:
        logging.getLogger("careless").exception("boom")
    out = buffer.getvalue()
    assert out and not any(secret in out for secret in secrets)
    assert "vibe_app_<redacted>" in out


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_credential_is_redacted_whole_in_every_character_a_credential_may_hold(log_output, fmt):
    """The app takes a credential of Latin letters, digits and - _ . ~ + / = (tenants.shapes: the platform
    calls its tokens opaque), yet redaction ended a `vibe_…` one at the first . + / ~ or =: a token shaped
    as base64 or a JWT was logged `vibe_session_<redacted>.` and the rest of it."""
    buffer = log_output(fmt)
    token = "vibe_session_hdr0.pay1oad+more/stuff~x=="
    logging.getLogger("careless").warning("refused %s (%r)", token, token)
    out = buffer.getvalue()
    assert "pay1oad" not in out and "stuff" not in out and out.count("vibe_session_<redacted>") == 2


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_one_time_codes_in_a_logged_url_are_redacted(log_output, fmt):
    """From a security trial: the development server's access line logged the OAuth callback's ?code= (and
    state, and the sign-in link's invite), each a credential for a while."""
    buffer = log_output(fmt)
    logging.getLogger("django.server").info(
        '"%s" %s %s', "GET /oauth/callback/?code=c0de5ecret&state=st4te.sig HTTP/1.1", "302", "0"
    )
    logging.getLogger("x").info("link /oauth/start/?invite=inv1te-value&x=1")
    out = buffer.getvalue()
    assert not any(value in out for value in ("c0de5ecret", "st4te.sig", "inv1te-value"))
    assert "?code=<redacted>&state=<redacted>" in out and "&x=1" in out


@pytest.mark.parametrize(
    "chatter",
    [
        # An idle bot's poll cycles, three a second.
        [
            "Enqueued [vibeapp] 123",
            "Process-1 processing foo-bar 'botcore.tasks.poll_bot'",
            "Processed 'botcore.tasks.poll_bot' (foo-bar)",
        ],
        # The one-minute schedules (the heartbeat, the sweeps): a dozen INFO lines a minute when idle.
        [
            "Process-7 created task alpha-bravo from schedule [ops.beat_qcluster]",
            "Process-2 processing alpha-bravo 'ops.heartbeat.beat_qcluster' [ops.beat_qcluster]",
            "Processed 'ops.heartbeat.beat_qcluster' (alpha-bravo)",
        ],
    ],
)
def test_the_task_queues_per_task_chatter_is_debug_and_a_failure_stays(log_output, chatter):
    """django-q2's per-task lines count as DEBUG (docs/operators.md); its other lines and a failure stay."""
    buffer = log_output("json")
    qlog = logging.getLogger("django-q")
    for message in chatter:
        qlog.info(message)
    qlog.error("Failed 'botcore.tasks.provision_portal' (charlie-delta) - boom")
    qlog.info("Q Cluster vibeapp starting.")
    assert [line["message"] for line in lines(buffer)] == [
        "Failed 'botcore.tasks.provision_portal' (charlie-delta) - boom",
        "Q Cluster vibeapp starting.",
    ]


@pytest.mark.django_db
def test_a_web_request_logs_with_the_gateways_request_id(log_output):
    buffer = log_output("json")
    response = Client().get(
        "/",
        headers={
            "X-Vibe-Authorization": "Bearer vibe_séssion",
            "X-Vibe-Request-Id": "req_abc123",
            "X-Vibe-User-Id": "1",
            "X-Vibe-Portal-Id": "p",
        },
    )
    assert response.status_code == 400
    refused = [line for line in lines(buffer) if line["logger"] == "tenants.views"]
    assert refused and refused[0]["request_id"] == "req_abc123"


def test_the_task_queues_own_lines_never_carry_a_previous_tasks_context(log_output):
    buffer = log_output("json")
    bind_log_context(bot=1, task="poll_bot")
    logging.getLogger("django-q").error("Failed 'tenants.tasks.warn_expiring_sessions' (foo) - boom")
    [line] = lines(buffer)
    assert line["bot"] is None and line["task"] is None


@pytest.mark.django_db
def test_a_request_for_a_host_not_served_is_one_warning_naming_the_host(log_output):
    """A Host header not in ALLOWED_HOSTS (any scanner reaching the address, not the name) was Django's ERROR
    with a traceback on django.security.DisallowedHost, a page to whoever watches the errors for each probe.
    It is the client's doing, as a body over the limits is: one WARNING naming the path and the host."""
    buffer = log_output("json")
    response = Client().get("/healthz", HTTP_HOST="scanner.example")
    assert response.status_code == 400
    logged = lines(buffer)
    assert [line for line in logged if line["level"] in ("ERROR", "CRITICAL") or "exc_info" in line] == []
    [warning] = [line for line in logged if line["logger"] == "django.security.DisallowedHost"]
    assert warning["level"] == "WARNING" and warning["status_code"] == 400
    assert "path=/healthz" in warning["message"] and "'scanner.example'" in warning["message"]


@pytest.mark.django_db
def test_a_refused_requests_path_cannot_forge_a_log_line(log_output):
    """The path is the client's, and Django decodes %0a into a line break: the 400 of a host not served (and
    the 413 of a body over the limits) wrote it as it came, so a request could add a line of its own making
    to a text log. Escaped as Django's own request lines escape it."""
    buffer = log_output("text")
    Client().get("/%0a2030-01-01 00:00:00,000 ERROR forged line", HTTP_HOST="scanner.example")
    [line] = buffer.getvalue().splitlines()
    assert "WARNING django.security.DisallowedHost" in line and "path=/\\n2030-01-01" in line


def test_a_worker_forgets_a_tasks_log_context_when_the_task_ends(log_output, task_queue):
    """From a skill author's trial: after a task ran in a worker, every later line of that process named it
    (a test's own poll cycles logged "task=sync_bot_commands")."""
    from django_q.tasks import async_task

    buffer = log_output("json")
    async_task("botcore.tasks.sweep_pending_bots")
    task_queue.run()
    logging.getLogger("botcore.services.polling").warning("after the task")
    [line] = [line for line in lines(buffer) if line["message"] == "after the task"]
    assert line["task"] is None


def test_with_debug_on_djangos_own_lines_are_written_once_redacted(settings):
    """With DEBUG on (runstack turns it on), Django's default console handler, still on the `django` logger
    beside ours, wrote each of its lines a second time, unformatted and unredacted."""
    from django.utils.log import configure_logging

    settings.DEBUG = True
    token = "vibe_session_" + "d4" * 20
    buffer = io.StringIO()
    try:
        configure_logging(django_settings.LOGGING_CONFIG, build_logging(fmt="text", level="INFO"))
        for name in ("", "django", "django.request"):
            for handler in logging.getLogger(name).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(buffer)
        logging.getLogger("django.request").error("Internal Server Error: /x %s", token)
    finally:
        configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)
    out = buffer.getvalue()
    assert token not in out
    assert out.count("Internal Server Error") == 1 and "vibe_session_<redacted>" in out


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_password_in_a_logged_url_is_redacted(log_output, fmt):
    """DATABASE_URL and REDIS_URL carry the database's and Redis's passwords."""
    buffer = log_output(fmt)
    logging.getLogger("x").warning(
        "stores postgres://vibe:pg-Pa55word@db:5432/vibe and redis://:r3dis-Pa55@redis:6379/0, a page http://h/x@y"
    )
    out = buffer.getvalue()
    assert "Pa55" not in out
    assert "postgres://vibe:<redacted>@db:5432/vibe" in out and "redis://:<redacted>@redis:6379/0" in out
    assert "http://h/x@y" in out


def test_the_error_report_hides_the_passwords_in_the_settings_urls(settings):
    """Django's debug page and error mail list the settings, hiding only those named like a secret:
    DATABASE_URL and REDIS_URL (and the cache's and the task queue's copies) were shown whole."""
    import sys

    from ops.error_reports import RedactingExceptionReporter

    def password() -> str:  # neither in this source nor in a variable: the report quotes both
        return "-".join(["pg", "Pa55word"])

    settings.DATABASE_URL = f"postgres://vibe:{password()}@db:5432/vibe"
    settings.REDIS_URL = f"redis://:{password()}@redis:6379/0"
    try:
        raise RuntimeError("it failed")
    except RuntimeError:
        reporter = RedactingExceptionReporter(None, *sys.exc_info())
        html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "it failed" in html and "it failed" in text
    assert password() not in html and password() not in text
    assert "postgres://vibe:&lt;redacted&gt;@db:5432/vibe" in html


# Passwords a URL may carry as they are, which the app's clients read whole (urlsplit takes the user part to
# the last "@"): an "@" left unencoded, a quote.
AWKWARD_PASSWORDS = ["Tr0ub@dor-Pa55", "it's-Pa55", 'say-"Pa55"']


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_a_url_password_with_an_at_sign_or_a_quote_is_redacted_whole(log_output, password):
    buffer = log_output("text")
    logging.getLogger("x").warning(
        "stores redis://:%s@redis:6379/0 and postgres://vibe:%s@db/vibe", password, password
    )
    out = buffer.getvalue()
    assert "Pa55" not in out
    assert "redis://:<redacted>@redis:6379/0" in out and "postgres://vibe:<redacted>@db/vibe" in out


def report_with_redis_url(settings, url: str) -> tuple[str, str]:
    """The error report's HTML and text with REDIS_URL set to `url` (its one frame holds the URL alone)."""
    import sys

    from ops.error_reports import RedactingExceptionReporter

    settings.REDIS_URL = url
    try:
        raise RuntimeError("it failed")
    except RuntimeError:
        reporter = RedactingExceptionReporter(None, *sys.exc_info())
        return reporter.get_traceback_html(), reporter.get_traceback_text()


@pytest.mark.parametrize("password", AWKWARD_PASSWORDS)
def test_the_error_report_hides_a_url_password_with_an_at_sign_or_a_quote(settings, password):
    html, text = report_with_redis_url(settings, f"redis://:{password}@redis:6379/0")
    assert "it failed" in html and "it failed" in text
    assert "Pa55" not in html and "Pa55" not in text


@pytest.mark.parametrize("secret", ["jira-pat-7f3a9c1e5b", "tk/with+marks=&?"])
def test_a_noted_secret_is_redacted_as_written_and_as_a_url_carries_it(secret):
    """From a skill author's trial: a library's error names the URL it called, the token in its query
    URL-encoded (`tk%2Fwith%2Bmarks%3D%26%3F`), and only the token as written was known to redact()."""
    from urllib.parse import quote, urlencode

    from ops.redaction import note_secrets, redact

    clear_log_context()
    try:
        note_secrets([secret])
        url = "https://tracker.example/api?" + urlencode({"token": secret})
        for text in (
            f"401: token {secret} refused",
            f"GET {url} failed",
            f"GET /x/{quote(secret, safe='')}/",
        ):
            assert secret not in redact(text) and "<redacted>" in redact(text), text
            assert quote(secret, safe="") not in redact(text) and quote(secret) not in redact(text)
    finally:
        clear_log_context()
    assert redact(f"after the task: {secret}") == f"after the task: {secret}"
