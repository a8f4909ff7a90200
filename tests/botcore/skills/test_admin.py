"""Operators' admin for skills: runs can be found and run again; conversation states show no one's words."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from botcore import conf
from botcore.admin.skills import RUN_AGAIN_LIMIT
from botcore.models import ConversationState, SkillRun
from tenants.models import Portal

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(User.objects.create_superuser("op", "op@example.com", "pw"))
    return client


def test_states_list_their_keys_but_not_what_people_wrote(operator):
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.example")
    state = ConversationState.objects.create(
        portal=portal, skill_name="standup", dialog_id="7", data={"answers": ["my secret plan"]}, version=3
    )
    for url in ("/admin/botcore/conversationstate/", f"/admin/botcore/conversationstate/{state.pk}/change/"):
        page = operator.get(url).content.decode()
        assert "answers" in page and "my secret plan" not in page


def test_a_run_that_used_up_its_attempts_is_run_again(operator, task_queue):
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.example")
    run = SkillRun.objects.create(
        portal=portal,
        skill_name="standup",
        kind="scheduled",
        run_key="k",
        status="failed",
        attempts=conf.handle_max_attempts(),
        timed_out_attempts=conf.handle_max_timed_out_attempts(),  # those too: a slow handler fixed since
        error="boom",
    )
    assert "boom" in operator.get(f"/admin/botcore/skillrun/{run.pk}/change/").content.decode()
    operator.post("/admin/botcore/skillrun/", {"action": "run_again", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "pending" and run.attempts == 0 and run.timed_out_attempts == 0 and run.error == ""
    assert task_queue.queued == [("botcore.tasks.execute_skill_run", (run.pk,))]
    task_queue.run()
    run.refresh_from_db()
    # The worker ran it: standup is off on this portal, so the run ends skipped after one attempt.
    assert (run.status, run.attempts) == ("skipped", 1)


def test_runs_have_no_hard_delete(operator):
    """From an operator trial: the admin offered "Delete selected" for runs. A scheduled run's row is its
    firing's claim (botcore/services/skill_schedules.py): deleted within the catch-up window, the next sweep
    claims that firing again and the skill runs twice (a standup's questions asked twice); a pending
    deferred job deleted is lost. Finished runs are pruned by the retention."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.example")
    run = SkillRun.objects.create(
        portal=portal, skill_name="standup", kind="scheduled", run_key="schedule:ask:x", status="done"
    )
    assert 'value="delete_selected"' not in operator.get("/admin/botcore/skillrun/").content.decode()
    assert operator.get(f"/admin/botcore/skillrun/{run.pk}/delete/").status_code == 403
    operator.post(
        "/admin/botcore/skillrun/", {"action": "delete_selected", "_selected_action": [run.pk], "post": "yes"}
    )
    assert SkillRun.objects.filter(pk=run.pk).exists()


def test_running_again_takes_a_few_hundred_runs_at_a_time(operator, task_queue):
    """From an operator trial with 100,000 runs: "select all" and run again updated and queued each run in
    one request, 232 s (the web worker's timeout is 30 s), and queued 99,000 tasks ahead of the bots'
    replies."""
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.example")
    SkillRun.objects.bulk_create(
        SkillRun(portal=portal, skill_name="standup", kind="scheduled", run_key=f"k{n}", status="failed")
        for n in range(RUN_AGAIN_LIMIT + 1)
    )

    answer = operator.post(
        "/admin/botcore/skillrun/",
        {"action": "run_again", "select_across": 1, "_selected_action": [1]},
        follow=True,
    )

    assert task_queue.queued == []
    assert not SkillRun.objects.exclude(status="failed").exists()
    shown = [str(m) for m in answer.context["messages"]]
    assert any(f"at most {RUN_AGAIN_LIMIT} skill runs" in m and "nothing was done" in m for m in shown)
