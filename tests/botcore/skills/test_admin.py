"""Operators' admin for skills: runs can be found and run again; conversation states show no one's words."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from botcore.skills.models import ConversationState, SkillRun
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


def test_a_failed_run_can_be_run_again(operator, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kw: sent.append((func, args)))
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.example")
    run = SkillRun.objects.create(
        portal=portal,
        skill_name="standup",
        kind="scheduled",
        run_key="k",
        status="failed",
        attempts=3,
        error="boom",
    )
    assert "boom" in operator.get(f"/admin/botcore/skillrun/{run.pk}/change/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        operator.post("/admin/botcore/skillrun/", {"action": "run_again", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == "pending" and run.attempts == 0
    assert sent == [("botcore.skills.tasks.execute_skill_run", (run.pk,))]
