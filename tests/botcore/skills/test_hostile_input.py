"""Invalid input of any shape to the settings page, the skills API and the portal form is a 400 with a
message: unicode digits, numbers of thousands of digits, deep nesting, nulls, control characters."""

from __future__ import annotations

import json
import re

import pytest

from botcore.models import SkillConfig
from botcore.services.skill_configs import configure_skill
from botcore.skills.options import OptionsError
from botcore.web.api import SkillChangeSerializer
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db

HUGE = "9" * 5000
NESTED = "[" * 100_000 + "]" * 100_000


@pytest.fixture
def acme():
    return make_portal("acme")


@pytest.mark.parametrize(
    "field, value",
    [
        ("participants", "²"),
        ("participants", HUGE),
        ("participants", "1, ٣"),
        ("ask_at", "٠٩:٣٠"),
        ("weekdays", "²"),
        ("weekdays", HUGE),
        ("chat", "chat²"),
        ("chat", "chat" + HUGE),
        ("question", "hello\x00world"),
    ],
)
def test_hostile_form_values_are_a_400_naming_the_field(acme, field, value):
    form = {"is_enabled": "on", "chat": "chat3", field: value}
    refused = signed_in(acme, is_admin=True).post("/portal/skills/standup/", form)
    assert refused.status_code == 400
    page = refused.content.decode()
    error = re.search(f'data-testid="error-{field}"><li>(.*?)</li>', page, re.S)
    assert error and len(error[1]) < 200  # the message quotes a refused value cut short
    assert not SkillConfig.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        NESTED,
        json.dumps({"options": {"participants": ["²"]}}),
        json.dumps({"options": {"participants": [int(HUGE[:4000])]}}),
        '{"options": {"participants": [' + HUGE + "]}}",
        json.dumps({"options": {"weekdays": "²"}}),
        json.dumps({"options": {"chat": None, "participants": [None]}}),
        json.dumps({"options": {"question": {"a": [[[["deep"]]]]}}}),
        json.dumps({"options": None}),
        json.dumps({"isEnabled": None}),
        "null",
        "[]",
        '"text"',
        json.dumps({"options": {"ask_at": ["09:30"]}}),
    ],
    ids=lambda body: body[:40],
)
def test_hostile_api_bodies_are_a_400_with_a_message(acme, body):
    refused = signed_in(acme, is_admin=True).patch(
        "/api/skills/standup/", body, content_type="application/json"
    )
    assert refused.status_code == 400, refused.content[:300]
    assert refused.json()  # a message, not an empty answer
    assert not SkillConfig.objects.exists()


@pytest.mark.parametrize(
    "form",
    [
        {"language": "xx", "timezone": "UTC", "bot_name": ""},
        {"language": "en", "timezone": "Mars/Olympus", "bot_name": ""},
        {"language": "en", "timezone": "UTC", "bot_name": "Bot\x00"},
        {"language": "en", "timezone": "UTC", "bot_name": "x" * 5000},
        {"language": "en", "timezone": "²" * 5000, "bot_name": ""},
    ],
)
def test_hostile_portal_settings_are_a_400_with_a_message(acme, form):
    refused = signed_in(acme, is_admin=True).post("/portal/", {"action": "settings", **form})
    assert refused.status_code == 400
    assert 'class="errorlist"' in refused.content.decode()


class WalkCounting(dict):
    """A JSON object that counts the keys handed out by walking it (membership and len are not counted)."""

    walked = 0

    def __iter__(self):
        for key in super().__iter__():
            self.walked += 1
            yield key

    def keys(self):
        return list(iter(self))

    def items(self):
        return [(key, self[key]) for key in self]

    def values(self):
        return [self[key] for key in self]


def many_unknown(count: int) -> dict[str, int]:
    return {f"unknown{i}": i for i in range(count)}


@pytest.mark.parametrize("where", ["body", "options"])
def test_an_api_body_of_many_unknown_keys_is_a_short_400_naming_a_few(acme, where):
    unknown = many_unknown(20_000)
    body = {"isEnabled": True, **unknown} if where == "body" else {"options": unknown}
    refused = signed_in(acme, is_admin=True).patch(
        "/api/skills/standup/", json.dumps(body), content_type="application/json"
    )
    assert refused.status_code == 400
    assert len(refused.content) < 1000  # it echoed every key: 700 kB for 20,000 of them
    named = [key for key in unknown if key in refused.content.decode()]
    assert named == ["unknown0", "unknown1", "unknown2", "unknown3", "unknown4"]
    assert "20000" in refused.content.decode()
    assert not SkillConfig.objects.exists()


def test_unknown_keys_are_counted_without_walking_the_whole_body(acme):
    body = WalkCounting({"isEnabled": True, **many_unknown(1000)})
    change = SkillChangeSerializer(data=body)
    assert not change.is_valid()
    options = WalkCounting(many_unknown(1000))
    change = SkillChangeSerializer(data={"options": options})
    assert change.is_valid()
    with pytest.raises(OptionsError):
        configure_skill(acme, skill_name="standup", options=change.validated_data["options"])
    assert body.walked < 20 and options.walked < 20  # a few names, never each of the thousand


@pytest.mark.parametrize("where", ["body", "options"])
def test_an_unknown_key_a_megabyte_long_is_named_by_its_beginning(acme, where):
    """From a security probe: five names, but each in full: a 2.6 MB key came back as 5.2 MB (DRF writes
    U+2028 as six characters)."""
    key = "\u2028" * 400_000
    body = {"isEnabled": True, key: 1} if where == "body" else {"options": {key: 1}}
    refused = signed_in(acme, is_admin=True).patch(
        "/api/skills/standup/", json.dumps(body), content_type="application/json"
    )
    assert refused.status_code == 400 and len(refused.content) < 2000
