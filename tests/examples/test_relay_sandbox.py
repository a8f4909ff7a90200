# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""The relay skill on a sandbox portal: turned on with its webhook by `configure_skill`, a member's message
in a group chat forwarded through the real task queue to a webhook on loopback (the operator's
BOTCORE_OUTSIDE_HOSTS_ALLOWED lets the skill reach it, docs/skills.md §17.1), once; and a webhook that
answers otherwise told to the chat, in the writer's language (Boris speaks Russian; docs/skills.md §18)."""

import json

import pytest

from botcore.services.skill_configs import configure_skill

pytestmark = pytest.mark.slow


@pytest.fixture
def skill_paths():
    return ["help", "vibe_relay.skill.RelaySkill", "echo"]


def test_a_group_message_with_a_chosen_word_reaches_the_webhook_once_and_a_refusal_is_told(
    world, task_queue, listener, settings
):
    settings.BOTCORE_OUTSIDE_HOSTS_ALLOWED = ["127.0.0.1"]
    hook = f"http://127.0.0.1:{listener.port}/services/T1/B2/wh-token-9f8e"
    configure_skill(
        world.sp.portal, skill_name="relay", is_enabled=True, options={"webhook_url": hook, "words": "#ops"}
    )
    team = world.team()
    bot = f"[USER={world.bot_id}]Vibe Bot[/USER]"
    world.say(f"{bot} db1 is full #ops", user_id=world.sp.member_id, chat_id=team["id"])
    world.say(f"{bot} lunch?", user_id=world.sp.member_id, chat_id=team["id"])
    world.poll()
    task_queue.run()  # the deferred job: the webhook's call
    assert listener.requests == ["/services/T1/B2/wh-token-9f8e"]
    assert len(listener.request_headers) == 1
    said = [m["text"] for m in world.chat_messages(team["id"]) if m["authorId"] == world.bot_id]
    assert not any("forward" in text for text in said)  # forwarded: nothing to say
    assert any("lunch?" in text for text in said)  # echo had the other one

    listener.redirect_to = "http://example.com/moved"  # a webhook answering otherwise than 2xx
    world.say(f"{bot} still full #ops", user_id=world.sp.member_id, chat_id=team["id"])
    world.poll()
    task_queue.run()
    said = [m["text"] for m in world.chat_messages(team["id"]) if m["authorId"] == world.bot_id]
    assert said.count("Не удалось переслать ваше сообщение: вебхук ответил 307.") == 1
    assert json.dumps(world.chat_messages(team["id"])).count("wh-token-9f8e") == 0
