"""The tickets skill on a sandbox portal: turned on with its token, a ticket asked over two messages, filed
by a press through the real task queue, and the day's count posted to a group chat by the minute sweep
(docs/skills.md §13, §17). The tracker is replaced: the project's tests reach nothing beyond loopback."""

from datetime import datetime, time, timedelta

import httpx
import pytest
import vibe_tickets.skill
from django.utils import timezone

from botcore import conf
from botcore.services.skill_configs import configure_skill
from botcore.services.skill_schedules import sweep_schedules

pytestmark = pytest.mark.slow


@pytest.fixture
def skill_paths():
    return ["help", "vibe_tickets.skill.TicketSkill", "echo"]


def test_a_ticket_asked_pressed_filed_and_counted_in_the_days_digest(world, task_queue, monkeypatch):
    calls = []

    def tracker(request):
        calls.append({"headers": {"Authorization": request.headers["Authorization"]}})
        return httpx.Response(201, json={"key": "HD-7"})

    # The tracker behind the skill's outside_client (tests/botcore/skills/test_outbound.py tests its checks).
    replaced = lambda *, timeout: httpx.Client(transport=httpx.MockTransport(tracker), timeout=timeout)  # noqa: E731
    monkeypatch.setattr(vibe_tickets.skill, "outside_client", replaced)
    team = world.team()
    options = {"api_token": "tok-of-the-tracker", "digest_chat": f"chat{team['id']}", "digest_days": "1-7"}
    configure_skill(world.sp.portal, skill_name="tickets", is_enabled=True, options=options)
    task_queue.run()  # the switch re-registers the bot's commands: /ticket and the buttons' ticket_priority
    world.say("/ticket")
    world.poll()
    world.say("the printer is jammed")
    world.poll()
    [draft] = [m for m in world.messages() if m["text"].startswith("[b]New ticket[/b]")]
    assert [b["COMMAND_PARAMS"] for b in draft["keyboard"]] == ["1 low", "1 normal", "1 high"]

    world.act("buttons", userId=world.sp.admin_id, messageId=draft["id"], index=2)
    world.poll()
    task_queue.run()  # the deferred job: the tracker's call
    said = [m["text"] for m in world.messages()]
    assert "Filing it, priority High…" in said and "Filed: [b]HD-7[/b]" in said
    assert [call["headers"] for call in calls] == [{"Authorization": "Bearer tok-of-the-tracker"}]

    now = timezone.now()  # the portal's clock is UTC here
    sweep_schedules(datetime.combine(now.date(), time(17, 1), tzinfo=now.tzinfo))
    task_queue.run()
    assert world.chat_messages(team["id"])[-1]["text"] == "Tickets filed today: 1"
    sweep_schedules(datetime.combine(now.date(), time(17, 2), tzinfo=now.tzinfo) + timedelta(seconds=1))
    task_queue.run()
    assert [m["text"] for m in world.chat_messages(team["id"])].count("Tickets filed today: 1") == 1


class WorkerDied(BaseException):
    """A worker killed while the tracker held its answer: nothing of the skill's runs after it (not an
    Exception, so no handler catches it, as none catches a SIGKILL)."""


def test_a_job_whose_worker_died_after_the_tracker_filed_it_runs_again_with_the_same_key(
    world, task_queue, monkeypatch
):
    """docs/skills.md §17.1: the request is sent again, key or not; the key is what lets the tracker tell."""
    keys = []

    def tracker(request):
        keys.append(request.headers.get("Idempotency-Key"))
        if len(keys) == 1:
            raise WorkerDied  # the tracker filed it; the worker died before its answer came
        return httpx.Response(201, json={"key": "HD-7"})

    replaced = lambda *, timeout: httpx.Client(transport=httpx.MockTransport(tracker), timeout=timeout)  # noqa: E731
    monkeypatch.setattr(vibe_tickets.skill, "outside_client", replaced)
    configure_skill(world.sp.portal, skill_name="tickets", is_enabled=True, options={"api_token": "tok"})
    task_queue.run()
    world.say("/ticket the printer is jammed")
    world.poll()
    [draft] = [m for m in world.messages() if m["text"].startswith("[b]New ticket[/b]")]
    world.act("buttons", userId=world.sp.admin_id, messageId=draft["id"], index=1)
    world.poll()
    with pytest.raises(WorkerDied):
        task_queue.run()
    # The minute sweep hands back a run still running past its lease, as it does one whose worker died.
    sweep_schedules(timezone.now() + timedelta(seconds=conf.lease_seconds() + 61))
    task_queue.run()
    assert len(keys) == 2 and keys[0] and len(set(keys)) == 1
    assert [m["text"] for m in world.messages()].count("Filed: [b]HD-7[/b]") == 1
