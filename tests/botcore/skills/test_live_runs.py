"""Skills' runs through the real pieces: two qcluster processes, a poller, the real broker and database.

Deferred work leaves the bot's cycle and comes back once through another worker; sweeps of the skills'
schedules fired by both clusters at once claim each firing once.
"""

from __future__ import annotations

import time

import pytest
from django_q.tasks import async_task

from botcore.models import EventLogEntry, SkillRun
from botcore.services.bots import provision_bot
from botcore.services.conversation_state import DatabaseStateStore
from botcore.skills.state import DialogState
from tests.botcore.livestack import LiveStack, wait_for
from tests.botcore.skills.probe import LOG

pytestmark = [pytest.mark.slow]

SKILLS = "tests.botcore.skills.probe.ProbeSkill,botcore.skills.builtin.echo.EchoSkill"


@pytest.fixture
def stack(sandbox_portal, sandbox, settings):
    settings.BOTCORE_SKILLS = SKILLS.split(",")
    stack = LiveStack(
        base_url=sandbox.base_url, app_key=sandbox_portal.app_key, extra_env={"BOTCORE_SKILLS": SKILLS}
    )
    yield stack
    for name in list(stack.processes):
        stack.kill(name)  # their work is checked already; a graceful qcluster stop takes 15 s each


def texts(sandbox_portal, bot) -> list[str]:
    return [m["text"] for m in sandbox_portal.bot_messages(bot.vibe_bot_id)]


def test_deferred_work_comes_back_once_through_a_real_worker(sandbox_portal, stack):
    bot = provision_bot(sandbox_portal.portal)
    for name in ("qcluster1", "qcluster2", "poller"):
        stack.start(name)
    sandbox_portal.say(user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text="slow")
    wait_for(lambda: "done later: slow" in texts(sandbox_portal, bot), timeout=45, what="the deferred answer")
    wait_for(
        lambda: not SkillRun.objects.exclude(status="done").exists(), timeout=20, what="the run to finish"
    )
    assert texts(sandbox_portal, bot).count("done later: slow") == 1
    assert EventLogEntry.objects.get(bot=bot, event_type="ONIMBOTV2MESSAGEADD").status == "handled"


def test_sweeps_from_two_clusters_at_once_fire_each_schedule_once(sandbox_portal, stack, monkeypatch):
    from django_q.conf import Conf

    bot = provision_bot(sandbox_portal.portal)
    stack.start("qcluster1")
    stack.start("qcluster2")
    # Tasks are signed with the cluster's name: sign ours as the stack's clusters expect.
    monkeypatch.setattr(Conf, "PREFIX", stack.env["VIBE_Q_NAME"])
    for _ in range(6):  # as if both clusters' schedulers fired the minute's sweep, several times over
        async_task("botcore.tasks.sweep_skill_schedules", cluster=stack.env["VIBE_Q_NAME"])
    store = DatabaseStateStore(portal_id=bot.portal_id, skill_name="probe")
    wait_for(lambda: SkillRun.objects.filter(status="done").exists(), timeout=45, what="a scheduled run")
    wait_for(
        lambda: not SkillRun.objects.exclude(status="done").exists(), timeout=20, what="every run to finish"
    )
    runs = list(SkillRun.objects.values_list("run_key", flat=True))
    ticks = [e for e in DialogState(store, LOG).get()["events"] if e["type"] == "BACKEND_SCHEDULED_RUN"]
    assert len(ticks) == len(runs) == len(set(runs)) >= 1
    assert len({tick["local"] for tick in ticks}) == len(ticks)


def test_reminders_due_at_one_time_ring_in_the_order_they_were_made_through_real_workers(
    sandbox_portal, stack, monkeypatch
):
    """Two clusters of six workers each: the sweep hands every reminder due by then to them at once, and they
    rang in whatever order the workers happened to post them."""
    from django_q.conf import Conf

    stack.env["VIBE_Q_WORKERS"] = "6"
    bot = provision_bot(sandbox_portal.portal)
    for name in ("qcluster1", "qcluster2", "poller"):
        stack.start(name)
    due = int(time.time()) + 10
    reminders = [f"r{n}" for n in range(6)]
    for text in reminders:
        sandbox_portal.say(
            user_id=sandbox_portal.admin_id, bot_id=bot.vibe_bot_id, text=f"remind at {due}: {text}"
        )
    wait_for(lambda: SkillRun.objects.filter(kind="deferred").count() == 6, timeout=45, what="the reminders")
    time.sleep(max(0.0, due + 1 - time.time()))
    monkeypatch.setattr(Conf, "PREFIX", stack.env["VIBE_Q_NAME"])  # signed as the stack's clusters expect
    async_task("botcore.tasks.sweep_skill_schedules", cluster=stack.env["VIBE_Q_NAME"])

    def rang() -> list[str]:
        return [
            t.removeprefix("done later: ") for t in texts(sandbox_portal, bot) if t.startswith("done later")
        ]

    wait_for(lambda: len(rang()) == 6, timeout=60, what="every reminder")
    assert rang() == reminders
