"""Every kind of handler a skill can declare, each reached from a real sandbox event through poll_bot_once
(or, for the backend's own events, through the service and task that raise them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from botcore.models import ActionRecord, Bot, EventLogEntry, SkillRun
from botcore.services.conversation_state import DatabaseStateStore
from botcore.services.skill_schedules import sweep_schedules
from botcore.skills.state import DialogState
from tests.botcore.skills.probe import LOG


@pytest.fixture
def skill_paths():
    return ["tests.botcore.skills.probe.ProbeSkill"]


def probe_log(world) -> list[dict]:
    return (
        DialogState(DatabaseStateStore(portal_id=world.bot.portal_id, skill_name="probe"), LOG)
        .get()
        .get("events", [])
    )


def texts(world) -> list[str]:
    return [m["text"] for m in world.messages()]


@pytest.mark.slow
def test_every_platform_event_kind_reaches_the_skill(world, task_queue):
    sp, bot_id = world.sp, world.bot_id
    world.act("open", userId=sp.admin_id, botId=bot_id)  # join (1:1)
    said = world.say("hello")  # message
    world.say("/probe now")  # command
    world.say("buttons")
    world.poll()
    keyboard_message = next(m for m in world.messages() if m["text"] == "Press it")
    world.act("buttons", userId=sp.admin_id, messageId=keyboard_message["id"], index=0)  # button command
    world.act(f"messages/{said['id']}/edit", userId=sp.admin_id, text="hello (edited)")  # message edit
    world.act("reactions", userId=sp.admin_id, messageId=keyboard_message["id"], reaction="fire")  # reaction
    world.act("context", userId=sp.admin_id, botId=bot_id, context={"order": 7})  # context request
    world.act(f"messages/{said['id']}/delete", userId=sp.admin_id)  # message delete
    group = world.act("chats", userId=sp.admin_id, title="Team", memberIds=[sp.member_id, bot_id])[
        "chat"
    ]  # join (group)
    world.say(f"[user={bot_id}]Probe[/user] in the group", chat_id=group["id"])  # a group mention
    world.poll()

    kinds = [
        (
            e["type"],
            e.get("text") or e.get("command") or e.get("reaction") or e.get("context") or e.get("message_id"),
        )
        for e in probe_log(world)
    ]
    assert kinds == [
        ("ONIMBOTV2JOINCHAT", None),
        ("ONIMBOTV2MESSAGEADD", "hello"),
        ("ONIMBOTV2COMMANDADD", "probe"),
        ("ONIMBOTV2MESSAGEADD", "buttons"),
        ("ONIMBOTV2COMMANDADD", "probe_button"),
        ("ONIMBOTV2MESSAGEUPDATE", "hello (edited)"),
        ("ONIMBOTV2REACTIONCHANGE", "fire"),
        ("ONIMBOTV2CONTEXTGET", {"order": 7}),
        ("ONIMBOTV2MESSAGEDELETE", said["id"]),
        ("ONIMBOTV2JOINCHAT", None),
        ("ONIMBOTV2MESSAGEADD", f"[user={bot_id}]Probe[/user] in the group"),
    ]
    button = probe_log(world)[4]
    assert button["context"] == "keyboard"
    shown = texts(world)
    assert "/probe via textarea" in shown and "/probe_button via keyboard" in shown
    assert "got: hello" in shown and "saw ONIMBOTV2CONTEXTGET" in shown
    assert set(EventLogEntry.objects.filter(bot=world.bot).values_list("status", "skill")) == {
        ("handled", "probe")
    }


def test_bot_deletion_reaches_the_skill_and_uninstalls_the_portal(world, task_queue):
    world.act(f"bots/{world.bot_id}/delete", userId=world.sp.admin_id)
    world.poll()
    assert [e["type"] for e in probe_log(world)] == ["ONIMBOTV2DELETE"]
    world.bot.refresh_from_db()
    assert world.bot.status == Bot.Status.RETIRED
    # The uninstall is announced to the skills that declare it, through a task.
    assert "botcore.tasks.announce_portal_uninstalled" in task_queue.names()
    task_queue.run()
    uninstalled = probe_log(world)[-1]
    assert uninstalled["type"] == "BACKEND_PORTAL_UNINSTALLED"
    assert SkillRun.objects.get(kind=SkillRun.Kind.UNINSTALLED).status == SkillRun.Status.DONE


@pytest.mark.slow
def test_an_install_is_announced_after_the_bot_is_provisioned(
    sandbox_portal, settings, skill_paths, task_queue
):
    from botcore.tasks import provision_portal_bot

    settings.BOTCORE_SKILLS = skill_paths
    provision_portal_bot(sandbox_portal.portal.pk)
    provision_portal_bot(sandbox_portal.portal.pk)  # provisioning again is not a second install
    task_queue.run()
    store = DatabaseStateStore(portal_id=sandbox_portal.portal.pk, skill_name="probe")
    assert [e["type"] for e in DialogState(store, LOG).get()["events"]] == ["BACKEND_PORTAL_INSTALLED"]


def test_a_scheduled_run_reaches_the_skill_once_on_the_portals_clock(world, task_queue):
    from tenants.models import PortalSettings

    PortalSettings.objects.update_or_create(portal=world.bot.portal, defaults={"timezone": "Asia/Tokyo"})
    now = datetime(2030, 3, 4, 0, 7, 30, tzinfo=UTC)
    assert sweep_schedules(now) == 1  # 00:05 UTC = 09:05 in Tokyo, inside the catch-up window
    assert sweep_schedules(now) == 0  # a second scheduler (another qcluster) claims nothing
    task_queue.run()
    (entry,) = probe_log(world)
    assert entry["type"] == "BACKEND_SCHEDULED_RUN" and entry["schedule"] == "tick"
    assert entry["local"] == "2030-03-04T09:05:00+09:00"


def _store_without_handling(world) -> None:
    """What a busy worker pool leaves: the bot's events fetched and stored, not handled yet."""
    from botcore.services.eventlog import store_batch
    from botcore.services.platform import client_for_bot

    batch = client_for_bot(world.bot).get_events(world.bot_id)
    assert store_batch(world.bot.pk, batch, vibe_bot_id=world.bot_id, lease_token=None)


def _tick_run(world, due: datetime) -> SkillRun:
    from botcore.services.skill_runs import claim_run

    return claim_run(
        portal_id=world.bot.portal_id,
        skill_name="probe",
        kind=SkillRun.Kind.SCHEDULED,
        run_key=f"schedule:tick:{due.isoformat()}",
        payload={"schedule": "tick", "due_at": due.isoformat(), "local_due_at": due.isoformat()},
    )


def test_a_scheduled_run_waits_for_the_messages_its_bot_received_before_its_time(world, task_queue):
    """A standup's summary ran while the answers written a moment before it waited in the event log behind
    the bot's other work: it left them out. A scheduled run now waits (a minute sweep or two at most) for
    its bot's events from before its planned time, so it sees what was written before it."""
    from botcore.services.executor import execute_run

    world.say("written before the tick")
    _store_without_handling(world)
    run = _tick_run(world, timezone.now() + timedelta(seconds=1))
    assert execute_run(run.pk) == "pending"
    assert probe_log(world) == []  # neither ran
    run.refresh_from_db()
    assert run.attempts == 0 and "waiting for" in run.error
    world.poll()  # the bot's cycle handles the message
    assert execute_run(run.pk) == "done"
    seen = [e["type"] for e in probe_log(world) if e["type"] != "ONIMBOTV2JOINCHAT"]
    assert seen == ["ONIMBOTV2MESSAGEADD", "BACKEND_SCHEDULED_RUN"]


def test_a_scheduled_run_goes_ahead_without_a_backlog_that_does_not_clear(world, task_queue):
    import time_machine

    from botcore.services.executor import BACKLOG_WAIT, execute_run

    world.say("stuck")
    _store_without_handling(world)
    due = timezone.now() + timedelta(seconds=1)
    run = _tick_run(world, due)
    with time_machine.travel(due + BACKLOG_WAIT + timedelta(seconds=1)):
        assert execute_run(run.pk) == "done"  # waited its longest: what it could not see is left out
    assert [e["type"] for e in probe_log(world)] == ["BACKEND_SCHEDULED_RUN"]  # the events still wait


def test_runs_waiting_for_their_bots_backlog_do_not_hand_each_other_on(world, task_queue):
    """Each run that goes back hands on the next waiting for its turn; a run waiting for the backlog is not
    waiting for its turn: handed on, two such runs would enqueue each other, back and forth, for as long as
    the backlog lasts."""
    import time_machine

    from botcore.services.executor import BACKLOG_NOTE, execute_run
    from botcore.services.skill_runs import claim_run

    world.say("written before the ticks")
    _store_without_handling(world)
    due = timezone.now() + timedelta(seconds=1)
    first = _tick_run(world, due)
    second = claim_run(
        portal_id=world.bot.portal_id, skill_name="probe", kind=SkillRun.Kind.SCHEDULED, run_key="other",
        payload={"schedule": "tick", "due_at": due.isoformat(), "local_due_at": due.isoformat()}, due_at=due,
    )  # fmt: skip
    with time_machine.travel(due + timedelta(seconds=5), tick=True):
        assert [execute_run(first.pk), execute_run(second.pk)] == ["pending", "pending"]
    # Neither enqueued the other: the minute sweep gives each its own try.
    assert set(SkillRun.objects.values_list("error", "enqueued_at")) == {(BACKLOG_NOTE, None)}


def test_a_scheduled_run_waits_for_messages_written_before_its_time_by_a_portal_clock_ahead_of_ours(
    world, task_queue
):
    """The portal's clock two minutes ahead of ours dated a message written a moment before the run's time
    two minutes after it: the run went ahead without the message it had stored (a standup's summary left
    out an answer written in time). Its dates are read on our clock, as the bot's events show them."""
    from botcore.services.executor import execute_run

    world.sp.control.post("/_sandbox/clock", json={"advanceSeconds": 120})
    world.say("an earlier message")
    world.poll()
    world.say("written before the tick")
    _store_without_handling(world)
    run = _tick_run(world, timezone.now() + timedelta(seconds=30))
    assert execute_run(run.pk) == "pending"
    world.poll()
    assert execute_run(run.pk) == "done"
    seen = [e["type"] for e in probe_log(world) if e["type"] != "ONIMBOTV2JOINCHAT"]
    assert seen == ["ONIMBOTV2MESSAGEADD", "ONIMBOTV2MESSAGEADD", "BACKEND_SCHEDULED_RUN"]


@pytest.mark.slow
def test_deferred_work_runs_later_in_a_worker_and_answers_in_the_same_chat(world, task_queue):
    world.say("slow")
    world.poll()
    assert "done later: slow" not in texts(world)  # the cycle did not wait for it
    assert task_queue.names() == ["botcore.tasks.execute_skill_run"]
    # The event handled again (a worker killed mid-cycle) defers nothing a second time.
    EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").update(
        status="received", attempts=1
    )
    world.poll()
    assert SkillRun.objects.filter(kind=SkillRun.Kind.DEFERRED).count() == 1
    task_queue.run()
    assert texts(world).count("done later: slow") == 1
    assert probe_log(world)[-1] == {"type": "BACKEND_DEFERRED_JOB", "job": "slow", "data": {"asked": "slow"}}


def test_a_runs_posts_spend_the_keys_budget_behind_replies_and_an_events_as_replies(
    world, task_queue, monkeypatch
):
    """Every portal's 09:30 standup asks its people at once on the one app key: a run's posts wait behind
    the replies of other portals' chats (Priority.RUN), while a reply to a message goes first."""
    from botcore.vibe.budget import NoBudget, Priority

    asked: list[Priority] = []

    def acquire(self, *, priority=Priority.REPLY) -> bool:
        asked.append(priority)
        return True

    monkeypatch.setattr(NoBudget, "acquire", acquire)
    monkeypatch.setattr("botcore.vibe.key_budgets.budget_for_key", lambda *args, **kwargs: NoBudget())
    monkeypatch.setattr("botcore.vibe.client.budget_for_key", lambda *args, **kwargs: NoBudget())
    world.say("slow")
    world.poll()
    replies = [p for p in asked if p not in (Priority.POLL, Priority.BEST_EFFORT)]
    asked.clear()
    task_queue.run()
    assert texts(world).count("done later: slow") == 1
    assert set(replies) == {Priority.REPLY} and Priority.RUN in asked and Priority.REPLY not in asked


@pytest.mark.slow
def test_work_deferred_to_a_later_time_runs_once_when_its_time_comes_not_before(world, task_queue):
    """ctx.defer_at: from a skill author's trial, a reminder had no way but a schedule firing every minute
    on every portal (a stored run each, kept for 30 days)."""
    world.say("later")
    world.poll()
    assert task_queue.names() == []  # not enqueued: not due
    [run] = SkillRun.objects.filter(kind=SkillRun.Kind.DEFERRED)
    assert run.due_at > timezone.now() + timedelta(minutes=9) and run.enqueued_at is None
    sweep_schedules()  # the minute sweep (it fires the probe's own tick too), before the job's time
    run.refresh_from_db()
    assert run.enqueued_at is None and run.status == SkillRun.Status.PENDING
    # Handled again (a worker killed mid-cycle), the event defers nothing a second time.
    EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").update(
        status="received", attempts=1
    )
    world.poll()
    assert SkillRun.objects.filter(kind=SkillRun.Kind.DEFERRED).count() == 1

    sweep_schedules(timezone.now() + timedelta(minutes=11))  # its time has come
    task_queue.run()
    sweep_schedules(timezone.now() + timedelta(minutes=12))
    task_queue.run()
    assert texts(world).count("done later: later") == 1


def test_reminders_due_in_the_same_minute_ring_in_the_order_they_are_due(world, task_queue):
    """Two reminders due in the same minute rang in reverse order: the minute sweep hands both to the task
    queue at once, and of its workers (24 by default) the one that took the later reminder may post before
    the one that took the earlier. Played here as a worker taking the later one first."""
    import time_machine

    from botcore.services.executor import execute_run

    for text in ("remind in 620: second", "remind in 600: first", "remind in 600: third"):
        world.say(text)  # the first due, then the third (made after it, due with it), then the second
    world.poll()
    first, third, second = SkillRun.objects.filter(kind=SkillRun.Kind.DEFERRED).order_by("due_at", "pk")
    assert (first.payload["data"]["asked"], second.payload["data"]["asked"]) == ("first", "second")
    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=True):
        sweep_schedules()  # all three due: enqueued at once
        taken_first = [execute_run(second.pk), execute_run(third.pk)]  # workers take the later ones first
        task_queue.run()
    rang = [t for t in texts(world) if t.startswith("done later: ")]
    assert rang == ["done later: first", "done later: third", "done later: second"]
    assert taken_first == ["pending", "pending"]  # each waited its turn, handed on by the one before it
    assert set(SkillRun.objects.values_list("status", "attempts")) == {("done", 1)}


def test_a_run_waiting_for_its_turn_is_handed_on_by_a_worker_whose_clock_is_behind_the_sweeps(
    world, task_queue
):
    """From a skill author's trial: a reminder and a schedule's firing swept together, at a clock ahead of
    the worker's (docs/skills.md 13's sweep_schedules(at a later time), or a sweeping host's clock a second
    ahead): the firing, taken first, went back for its turn, and the reminder, done, did not hand it on (it
    was not due yet by the worker's clock), so it waited for the next sweep; the test saw no firing."""
    from botcore.services.executor import execute_run

    world.say("remind in 60: first")
    world.poll()
    sweep_schedules(timezone.now() + timedelta(minutes=11))  # the reminder and the probe's tick, both due
    task_queue.purge()  # played by hand: a worker takes the later one first
    reminder = SkillRun.objects.get(kind=SkillRun.Kind.DEFERRED)
    tick = SkillRun.objects.get(kind=SkillRun.Kind.SCHEDULED)
    assert tick.due_at > reminder.due_at
    assert [execute_run(tick.pk), execute_run(reminder.pk)] == ["pending", "done"]
    task_queue.run()
    tick.refresh_from_db()
    assert (tick.status, tick.attempts) == (SkillRun.Status.DONE, 1)


@pytest.mark.slow
def test_work_due_while_the_portal_has_no_session_waits_for_one_and_is_not_given_up(world, task_queue):
    """From a skill author's trial: a reminder due while the portal's session had expired spent its five
    attempts on the platform's refusal within minutes and was failed, so it never came once an admin opened
    the app again (the bot's events wait on the platform meanwhile, and are answered then)."""
    world.say("later")
    world.poll()
    world.sp.control.post("/_sandbox/clock", json={"advanceSeconds": 25 * 3600})  # the session expires
    for hours in range(1, 9):  # hours of sweeps, more than the attempts a run is given
        sweep_schedules(timezone.now() + timedelta(hours=hours))
        task_queue.run(allow_failures=True)
    [run] = SkillRun.objects.filter(kind=SkillRun.Kind.DEFERRED)
    assert run.status == SkillRun.Status.PENDING and run.attempts <= 1
    world.sp.open_app()  # an admin opens the app: a fresh session
    sweep_schedules(timezone.now() + timedelta(hours=12))
    task_queue.run(allow_failures=True)
    assert texts(world).count("done later: later") == 1


@pytest.mark.django_db
def test_work_of_a_portal_that_uninstalled_the_app_is_skipped_not_left_waiting(settings):
    """Work waits for a session (above), but an uninstalled portal's never comes back."""
    from botcore.services.executor import execute_run
    from tenants.models import Portal

    settings.BOTCORE_SKILLS = ["tests.botcore.skills.probe.ProbeSkill"]
    portal = Portal.objects.create(
        member_id="gone", vibe_portal_id="vp-gone", domain="gone.example", status=Portal.Status.UNINSTALLED
    )
    run = SkillRun.objects.create(portal=portal, skill_name="probe", kind="deferred", run_key="k")
    assert execute_run(run.pk) == SkillRun.Status.SKIPPED


def test_defer_at_needs_an_aware_time_and_the_kit_records_it():
    from botcore.skills.testing import RecordingContext, make_message_event
    from tests.botcore.skills.probe import ProbeSkill

    ctx = RecordingContext(skill=ProbeSkill(), event=make_message_event("x"))
    with pytest.raises(ValueError, match="no time zone"):
        ctx.defer_at(datetime(2030, 3, 4, 9, 0), "remind")
    ctx.defer_at(datetime(2030, 3, 4, 9, 0, tzinfo=UTC), "remind", text="stand up")
    assert [job.data for job in ctx.deferred] == [{"text": "stand up"}]
    assert ctx.actions[-1].details["due_at"] == "2030-03-04T09:00:00+00:00"


@pytest.mark.slow
def test_files_and_chats_go_through_the_real_client_once(world, task_queue):
    world.say("file")
    world.say("chat")
    world.poll()
    shown = texts(world)
    assert "stored note.txt: заметка" in shown
    assert any(t.startswith("members: [") and str(world.sp.admin_id) in t for t in shown)
    chats = [c for c in world.calls_since(0) if c["method"] == "POST" and c["path"].endswith("/chats")]
    uploads = [c for c in world.calls_since(0) if c["path"].endswith("/files")]
    assert len(chats) == 1 and len(uploads) == 1
    recorded = ActionRecord.objects.filter(bot=world.bot).count()
    # Handled again, the same events find their upload and chat in the ledger instead of repeating them.
    EventLogEntry.objects.filter(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").update(
        status="received", attempts=1
    )
    world.poll()
    assert (
        len([c for c in world.calls_since(0) if c["method"] == "POST" and c["path"].endswith("/chats")]) == 1
    )
    assert len([c for c in world.calls_since(0) if c["path"].endswith("/files")]) == 1
    assert ActionRecord.objects.filter(bot=world.bot).count() == recorded  # every effect replayed, none made


@pytest.mark.slow
def test_the_contexts_actions_reach_the_platform(world, task_queue):
    said = world.say("tools")
    world.poll()
    by_text = {m["text"]: m for m in world.messages()}
    report = by_text["Report"]
    assert report["attach"]["BLOCKS"][1]["GRID"][0]["NAME"] == "Tests" and report["replyId"] == said["id"]
    assert by_text["final"]["editedAt"] and by_text["final"]["keyboard"][0]["TEXT"] == "OK"
    assert by_text["to be deleted"]["deleted"] is True
    calls = [(c["method"], c["path"].split(f"/bots/{world.bot_id}")[-1]) for c in world.calls_since(0)]
    assert ("POST", "/typing") in calls and ("DELETE", f"/messages/{said['id']}/reactions") in calls
    assert calls.count(("POST", "/text-field")) == 2
    assert EventLogEntry.objects.get(bot=world.bot, event_type="ONIMBOTV2MESSAGEADD").status == "handled"
