# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""The relay skill with the test kit alone: the webhook is an httpx.MockTransport behind the skill's
outside_client (docs/skills.md §17.1); no network, no database."""

import httpx
import pytest
import vibe_relay.skill
from vibe_relay.skill import RelaySkill

from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.options import OptionsError
from botcore.skills.testing import make_message_event, route, run_deferred, run_skill

HOOK = "https://hooks.example.com/services/T1/B2/wh-token-9f8e"
OPTIONS = {"webhook_url": HOOK, "words": "#ops, outage"}


@pytest.fixture
def webhook(monkeypatch):
    """What reached the webhook; answer with `webhook.status`."""

    class Webhook:
        status = 200
        received: list[httpx.Request] = []

    def handler(request):
        Webhook.received.append(request)
        return httpx.Response(Webhook.status)

    replaced = lambda *, timeout: httpx.Client(transport=httpx.MockTransport(handler), timeout=timeout)  # noqa: E731
    monkeypatch.setattr(vibe_relay.skill, "outside_client", replaced)
    Webhook.received = []
    return Webhook


def relay(text, **kwargs):
    ctx = run_skill(
        RelaySkill(), make_message_event(text, user_name="Boris Ivanov", **kwargs), options=OPTIONS
    )
    return run_deferred(RelaySkill(), ctx)


def test_a_message_with_a_chosen_word_is_forwarded_once_and_the_others_go_on(webhook):
    assert relay("Disk full on db1 #ops")[0].replies == []  # forwarded: nothing to say
    assert [(str(r.url), r.content) for r in webhook.received] == [
        (HOOK, b'{"text":"Boris Ivanov: Disk full on db1 #ops"}')
    ]
    skills = [RelaySkill(), EchoSkill()]
    options = {"relay": OPTIONS}
    assert route(make_message_event("an OUTAGE again"), skills, options=options).name == "relay"
    for other in ("hello", "#opsroom is quiet", "no outages"):
        assert route(make_message_event(other), skills, options=options).name == "echo", other


def test_a_refusing_or_silent_webhook_is_told_to_the_person_in_their_language(webhook, monkeypatch):
    webhook.status = 404
    assert relay("#ops x")[0].replies == ["I could not forward your message: the webhook answered 404."]

    def silent(request):
        raise httpx.ConnectTimeout("no answer")

    replaced = lambda *, timeout: httpx.Client(transport=httpx.MockTransport(silent), timeout=timeout)  # noqa: E731
    monkeypatch.setattr(vibe_relay.skill, "outside_client", replaced)
    [job] = relay("#ops x", language="ru")
    assert job.replies == ["Не удалось переслать ваше сообщение: вебхук не отвечает. Попробуйте позже."]


def test_the_address_must_lead_outside_and_the_words_are_words_not_a_pattern(webhook):
    with pytest.raises(OptionsError) as refused:
        run_skill(
            RelaySkill(), make_message_event("x"), options={**OPTIONS, "webhook_url": "http://10.0.0.5/h"}
        )
    assert refused.value.errors["webhook_url"].startswith("must be an address on the internet")
    backtracking = {**OPTIONS, "words": "(a+)+$"}  # as a regular expression it would hold the bot for minutes
    assert (
        route(
            make_message_event("a" * 40 + "b"), [RelaySkill(), EchoSkill()], options={"relay": backtracking}
        ).name
        == "echo"
    )


def test_without_options_the_kit_refuses_the_relay_as_enabling_it_would():
    """From a newcomer's trial: without options= the kit ran the relay on its defaults, the pattern empty,
    and it took every message; on a portal it cannot be enabled without them. Refused, naming skill and
    options."""
    said = "the relay skill's options: webhook_url: is required; words: is required"
    with pytest.raises(OptionsError) as refused:
        run_skill(RelaySkill(), make_message_event("hello"))
    assert str(refused.value) == said
    with pytest.raises(OptionsError) as refused:
        route(make_message_event("hello"), [RelaySkill(), EchoSkill()])
    assert str(refused.value) == said
