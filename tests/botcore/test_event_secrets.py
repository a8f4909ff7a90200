"""Secrets inside what the platform sends: an event carrying a classic imbot webhook's `auth` block (a portal
user's OAuth tokens, the app's application_token), a token in a file link's query, a password in a profile.
None is stored, nor shown where operators read: the admin's page of the entry, the operator API's event log
and its replay answer, the log lines at any level, a skill's exception stored as the entry's error. What a
skill needs of the event (its text, its files' ids, whom to answer) stays."""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from botcore.models import Bot, EventLogEntry
from botcore.services import eventlog
from botcore.services.bots import provision_bot
from botcore.services.eventlog import store_batch
from botcore.services.polling import poll_bot_once
from botcore.skills.base import Skill
from botcore.vibe.events import EventType
from botcore.vibe.parse import parse_event, read_event_batch
from ops.logs import RedactingTextFormatter
from tenants.models import Portal
from tests.ops.test_api import token_client

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "5d1f9a7c3e8b4a6f9c2d7e1b0a3f8c6d"
REFRESH_TOKEN = "8e2c4a6b1d3f5e7a9c0b2d4f6a8c1e3b"
APPLICATION_TOKEN = "c0ffee11d00d22beef33face44cafe55"
FILE_TOKEN = "dlTok-9QwErTy7UiOp"
PASSWORD = "correct-horse-battery"
API_KEY = "vibe_api_Zx8Cv7Bn6Mm5Ll4Kk3"
SECRETS = (ACCESS_TOKEN, REFRESH_TOKEN, APPLICATION_TOKEN, FILE_TOKEN, PASSWORD, API_KEY)

log = logging.getLogger(__name__)


def event_with_secrets(event_id: int = 1) -> dict:
    """A MESSAGEADD as a platform forwarding webhooks would send it: auth block, file link, password."""
    return {
        "eventId": event_id,
        "type": "ONIMBOTV2MESSAGEADD",
        "date": "2026-12-07T10:00:00+03:00",
        "data": {
            "bot": {"id": 7, "code": "b"},
            "dialogId": "12",
            "chat": {"id": 87, "dialogId": "12", "type": "private"},
            "user": {"id": 12, "name": "Anna Petrova", "password": PASSWORD, "apiKey": API_KEY},
            "message": {
                "id": 1501,
                "chatId": 87,
                "authorId": 12,
                "text": "here is the report",
                "params": {
                    "files": [
                        {
                            "id": 4,
                            "name": "report.pdf",
                            "urlDownload": f"https://acme.bitrix24.com/disk/download/?fileId=4&token={FILE_TOKEN}",
                        }
                    ]
                },
            },
            "auth": {
                "access_token": ACCESS_TOKEN,
                "refresh_token": REFRESH_TOKEN,
                "application_token": APPLICATION_TOKEN,
                "member_id": "m1",
                "domain": "acme.bitrix24.com",
                "expires_in": 3600,
            },
        },
    }


def count_secrets(text: str, secrets=SECRETS) -> int:
    return sum(text.count(secret) for secret in secrets)


@pytest.fixture
def bot() -> Bot:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return Bot.objects.create(portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE)


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


def test_an_event_is_stored_without_its_secrets_and_keeps_what_a_skill_reads(bot):
    batch = read_event_batch({"events": [event_with_secrets()], "nextOffset": 2})
    assert store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None) == 1
    entry = EventLogEntry.objects.get(bot=bot, vibe_event_id=1)
    assert count_secrets(json.dumps(entry.payload)) == 0, entry.payload
    data = entry.payload["data"]
    assert data["auth"] == "<redacted>" and data["user"]["password"] == "<redacted>"
    url = data["message"]["params"]["files"][0]["urlDownload"]
    assert url == "https://acme.bitrix24.com/disk/download/?fileId=4&token=<redacted>"
    # What a skill reads of it, read back as the executor does: files by id (get_file_download_url).
    event = parse_event(entry.payload)
    assert event.message.file_ids == (4,) and event.text == "here is the report"  # type: ignore[union-attr]
    assert event.dialog_id == "12" and event.user.name == "Anna Petrova"  # type: ignore[union-attr]


def test_an_unreadable_event_is_kept_for_an_operator_without_its_secrets(bot):
    unreadable = event_with_secrets()
    del unreadable["data"]["message"]  # a MESSAGEADD without its message: MALFORMED, its raw text kept
    batch = read_event_batch({"events": [unreadable], "nextOffset": 2})
    assert store_batch(bot.pk, batch, vibe_bot_id=7, lease_token=None) == 1
    entry = EventLogEntry.objects.get(bot=bot, vibe_event_id=1)
    assert entry.status == EventLogEntry.Status.MALFORMED
    assert '"auth": "<redacted>"' in entry.payload["raw_text"]  # the rest is there for an operator
    assert count_secrets(entry.payload["raw_text"] + entry.error) == 0, entry.payload


def test_an_entry_stored_with_its_secrets_shows_none_to_operators(bot, operator):
    """An entry a version before this one stored as it came (the retention keeps the log for days): the
    admin's page, the API's event log, its detail and its replay answer show none of its secrets."""
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_event_id=1, event_type="ONIMBOTV2MESSAGEADD", payload=event_with_secrets(),
        status=EventLogEntry.Status.FAILED, error="boom",
    )  # fmt: skip
    page = operator.get(f"/admin/botcore/eventlogentry/{entry.pk}/change/")
    assert page.status_code == 200 and "here is the report" in page.content.decode()
    listed = operator.get("/admin/botcore/eventlogentry/")
    api = token_client(staff=True)
    detail = api.get(f"/api/ops/events/{entry.pk}/")
    assert detail.status_code == 200 and detail.json()["payload"]["data"]["message"]["id"] == 1501
    events = api.get("/api/ops/events/")
    replay = api.post(f"/api/ops/events/{entry.pk}/replay/")
    again = api.post(f"/api/ops/events/{entry.pk}/replay/")
    shown = [page, listed, detail, events, replay, again]
    assert [r.status_code for r in shown] == [200, 200, 200, 200, 200, 409]
    assert count_secrets("".join(r.content.decode() for r in shown)) == 0


class PayloadQuotingSkill(Skill):
    """Logs the event it got at every level and fails quoting it whole, as a careless skill would."""

    name = "quoting"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        for level in (logging.DEBUG, logging.INFO, logging.WARNING):
            log.log(level, "handling %s", event.raw)
        raise RuntimeError(f"cannot handle {event.raw}")


@pytest.mark.slow
def test_under_auth_in_events_no_secret_of_an_event_is_stored_logged_or_shown(
    sandbox_portal, settings, operator, monkeypatch, caplog
):
    """The sandbox's `auth-in-events` dialect: each event carries a webhook's auth block with fresh tokens."""
    settings.BOTCORE_SKILLS = [f"{__name__}.PayloadQuotingSkill"]
    sandbox_portal.speak("auth-in-events")
    bot = provision_bot(sandbox_portal.portal)
    sent: list[str] = []  # each credential the platform sent, as it sent it
    real_build = eventlog.build_entries

    def noting_credentials(bot_row, vibe_bot_id, batch):
        for event in batch.events:
            auth = event.raw["data"]["auth"]
            sent.extend(auth[name] for name in ("access_token", "refresh_token", "application_token"))
        return real_build(bot_row, vibe_bot_id, batch)

    monkeypatch.setattr(eventlog, "build_entries", noting_credentials)
    lines = StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(RedactingTextFormatter("%(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)  # the lines as the project's formatter writes them
    caplog.set_level(logging.DEBUG)
    try:
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="hello")
        poll_bot_once(bot.pk)
    finally:
        logging.getLogger().removeHandler(handler)
    assert len(sent) == 6  # JOINCHAT and MESSAGEADD, three credentials each
    entry = EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD")
    assert entry.status == EventLogEntry.Status.FAILED and "cannot handle" in entry.error
    assert "handling" in lines.getvalue()
    page = operator.get(f"/admin/botcore/eventlogentry/{entry.pk}/change/").content.decode()
    api = token_client(staff=True)
    answers = [api.get(f"/api/ops/events/{entry.pk}/"), api.get("/api/ops/events/")]
    answers.append(api.post(f"/api/ops/events/{entry.pk}/replay/"))
    stored = json.dumps([e.payload for e in EventLogEntry.objects.filter(bot=bot)]) + entry.error
    caught = "".join(r.getMessage() for r in caplog.records)
    everywhere = stored + page + lines.getvalue() + caught + "".join(a.content.decode() for a in answers)
    assert count_secrets(everywhere, sent) == 0


def _quoting_error() -> str:
    """What a skill of an earlier version raised on an entry stored with its auth block: the access token
    bare (bare hex: no prefix nor name to know it by), the refresh token as a dict quotes it."""
    return (
        f"RuntimeError: the portal refused token {ACCESS_TOKEN} "
        f"(auth was {{'refresh_token': '{REFRESH_TOKEN}', 'domain': 'acme.bitrix24.com'}})"
    )


def test_an_old_entrys_error_quoting_its_tokens_shows_none_of_them_to_operators(bot, operator):
    """An entry stored before secrets were redacted on arrival keeps its payload's tokens, and its error (a
    skill's exception then) may quote one, bare, until the retention prunes it: the admin's page and list and
    the operator API's event log and detail showed it as stored."""
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_event_id=1, event_type="ONIMBOTV2MESSAGEADD", payload=event_with_secrets(),
        status=EventLogEntry.Status.FAILED, error=_quoting_error(),
    )  # fmt: skip
    page = operator.get(f"/admin/botcore/eventlogentry/{entry.pk}/change/")
    listed = operator.get("/admin/botcore/eventlogentry/")
    api = token_client(staff=True)
    detail = api.get(f"/api/ops/events/{entry.pk}/")
    events = api.get("/api/ops/events/")
    shown = [page, listed, detail, events]
    assert [r.status_code for r in shown] == [200, 200, 200, 200]
    assert "the portal refused token &lt;redacted&gt;" in page.content.decode()
    assert detail.json()["error"].startswith("RuntimeError: the portal refused token <redacted>")
    assert count_secrets("".join(r.content.decode() for r in shown)) == 0


class TokenQuotingSkill(Skill):
    """Fails quoting the event's access token bare, as a skill of an earlier version could on an entry
    stored with its auth block."""

    name = "token_quoting"
    event_types = frozenset({EventType.MESSAGE_ADD})

    def handle(self, event, ctx) -> None:
        raise RuntimeError(_quoting_error().removeprefix("RuntimeError: "))


@pytest.mark.slow
def test_an_old_entry_handled_now_stores_no_token_its_error_quotes(sandbox_portal, settings):
    """An entry an earlier version stored with its auth block, still waiting at the upgrade: a skill failing
    on it quoting a token bare had the token stored in the entry's error (redact() knows no bare hex)."""
    settings.BOTCORE_SKILLS = [f"{__name__}.TokenQuotingSkill"]
    bot = provision_bot(sandbox_portal.portal)
    payload = event_with_secrets()
    payload["data"]["bot"] = {"id": bot.vibe_bot_id, "code": bot.code}
    payload["data"]["user"]["id"] = sandbox_portal.admin_id
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_bot_id=bot.vibe_bot_id, vibe_event_id=900, event_type="ONIMBOTV2MESSAGEADD",
        payload=payload, status=EventLogEntry.Status.RECEIVED,
    )  # fmt: skip
    poll_bot_once(bot.pk)
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED, entry.error
    assert entry.error.startswith("RuntimeError: the portal refused token <redacted>")
    assert count_secrets(entry.error) == 0, entry.error


def test_a_persons_words_after_bearer_reach_the_skill_and_the_operator_and_a_token_after_it_does_not(
    sandbox_portal, operator
):
    """From a user's trial: "Bearer something" typed in a chat was stored, shown in the admin and answered
    by echo as "Bearer <redacted>". Words stay; a credential's shape after "Bearer" is still taken out."""
    bot = provision_bot(sandbox_portal.portal)
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    for text in ("Bearer something", f"Bearer {token}"):
        sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=text)
    assert poll_bot_once(bot.pk).status == "polled"
    entries = EventLogEntry.objects.filter(bot=bot, event_type="ONIMBOTV2MESSAGEADD").order_by(
        "vibe_event_id"
    )
    assert [e.payload["data"]["message"]["text"] for e in entries] == [
        "Bearer something",
        "Bearer <redacted>",
    ]
    assert all(e.status == EventLogEntry.Status.HANDLED and e.skill == "echo" for e in entries)
    echoed = [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id) if "you wrote" in m["text"]]
    assert len(echoed) == 2 and "Bearer something" in echoed[0] and token not in echoed[1], echoed
    shown = operator.get(f"/admin/botcore/eventlogentry/{entries[0].pk}/change/").content.decode()
    assert "Bearer something" in shown
    assert token not in operator.get(f"/admin/botcore/eventlogentry/{entries[1].pk}/change/").content.decode()
