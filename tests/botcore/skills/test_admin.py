"""Operators' admin for skills: runs can be found and run again; conversation states show no one's words."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from botcore import conf
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
        error="boom",
    )
    assert "boom" in operator.get(f"/admin/botcore/skillrun/{run.pk}/change/").content.decode()
    operator.post("/admin/botcore/skillrun/", {"action": "run_again", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "pending" and run.attempts == 0 and run.error == ""
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
