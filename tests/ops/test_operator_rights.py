"""An operator (the Operators group, not a superuser) reads the task queue's pages but cannot schedule or edit
a task: a django-q Schedule names any importable function with its arguments, so adding one ran code of the
operator's choosing in every worker (os.system, from a trial), with the keys that decrypt every portal's
credentials in reach. A group made before this is repaired by the next migrate. The operator API asks the
admin's rights too: a staff account without them reads and does nothing there."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.test import APIClient

from botcore.models import Bot, EventLogEntry, SkillRun
from ops.operators import ensure_operators_group
from ops.tokens import issue_operator_token
from tenants.models import Portal

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator() -> Client:
    user = get_user_model().objects.create_user("olga", password="pw-for-tests-only", is_staff=True)
    user.groups.add(ensure_operators_group())
    client = Client()
    client.force_login(user)
    return client


def test_an_operator_cannot_add_a_schedule_that_runs_a_function_of_their_choosing(operator):
    assert operator.get("/admin/django_q/schedule/add/").status_code == 403
    now = timezone.now()
    response = operator.post(
        "/admin/django_q/schedule/add/",
        {
            "name": "innocent",
            "func": "os.system",
            "args": "'id > /tmp/pwned'",
            "schedule_type": "O",
            "repeats": "-1",
            "next_run_0": now.date().isoformat(),
            "next_run_1": now.time().strftime("%H:%M:%S"),
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    assert not Schedule.objects.filter(func="os.system").exists()


def test_an_operator_cannot_change_an_existing_schedules_function(operator):
    schedule = Schedule.objects.create(
        name="botcore.sweep_skill_schedules",
        func="botcore.tasks.sweep_skill_schedules",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        next_run=timezone.now() + timedelta(minutes=1),
    )
    page = operator.get(f"/admin/django_q/schedule/{schedule.pk}/change/")
    assert page.status_code == 200 and 'name="func"' not in page.content.decode()  # shown, not a field
    operator.post(
        f"/admin/django_q/schedule/{schedule.pk}/change/",
        {"name": schedule.name, "func": "os.system", "schedule_type": "I", "minutes": "1"},
    )
    schedule.refresh_from_db()
    assert schedule.func == "botcore.tasks.sweep_skill_schedules"


def test_an_operator_still_reads_the_queues_pages(operator):
    for page in ("schedule", "success", "failure"):
        assert operator.get(f"/admin/django_q/{page}/").status_code == 200, page


def test_migrate_takes_the_queues_write_rights_from_a_group_made_before():
    group = Group.objects.create(name="Operators")
    group.permissions.set(Permission.objects.filter(content_type__app_label="django_q"))  # the old grant

    call_command("migrate", verbosity=0)

    codenames = set(
        group.permissions.filter(content_type__app_label="django_q").values_list("codename", flat=True)
    )
    assert codenames and all(name.startswith("view_") for name in codenames), codenames


@pytest.mark.slow
def test_a_partial_migrate_of_an_empty_database_is_not_stopped_by_the_repair(tmp_path):
    """migrate ops 0002 on a new database runs post_migrate before auth's tables exist: the repair waits."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIBE_", "DATABASE_"))},
        "VIBE_VAR_DIR": str(tmp_path),
        "VIBE_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), "migrate", "ops", "0002", "-v0"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# The operator API holds an account to the admin's rights: staff status alone listed every portal and bot,
# read the users' message texts in event payloads, and paused, re-verified and uninstalled (outside probe).


def _api_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_operator_token(user)[0]}")
    return client


@pytest.fixture
def a_portal_and_its_bot() -> tuple[Portal, Bot]:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    bot = Bot.objects.create(portal=portal, code="b", name="Bot", status=Bot.Status.ACTIVE, vibe_bot_id=5)
    EventLogEntry.objects.create(
        bot=bot, vibe_event_id=1, event_type="ONIMBOTV2MESSAGEADD", payload={"text": "private"}
    )
    return portal, bot


@pytest.mark.parametrize(
    "url",
    [
        "/api/ops/fleet/",
        "/api/ops/portals/",
        "/api/ops/bots/",
        "/api/ops/events/",
        "/api/ops/events/{event}/",
    ],
)
def test_a_staff_account_without_rights_reads_nothing_of_the_operator_api(a_portal_and_its_bot, url):
    staff = get_user_model().objects.create_user("sam", is_staff=True)
    answer = _api_client(staff).get(url.format(event=EventLogEntry.objects.get().pk))
    assert answer.status_code == 403 and "private" not in answer.content.decode()


@pytest.mark.parametrize(
    "action", ["portals/{portal}/remind", "portals/{portal}/reverify", "portals/{portal}/uninstall",
               "bots/{bot}/pause", "bots/{bot}/resume", "bots/{bot}/reprovision"],
)  # fmt: skip
def test_a_staff_account_that_may_only_view_cannot_act_through_the_operator_api(
    a_portal_and_its_bot, action, task_queue
):
    portal, bot = a_portal_and_its_bot
    viewer = get_user_model().objects.create_user("vera", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_portal", "view_bot"]))
    client = _api_client(viewer)
    assert client.get("/api/ops/bots/").status_code == 200  # reading is what the view right gives

    answer = client.post(f"/api/ops/{action.format(portal=portal.pk, bot=bot.pk)}/")

    assert answer.status_code == 403
    assert (
        Portal.objects.get().status == Portal.Status.ACTIVE and Bot.objects.get().status == Bot.Status.ACTIVE
    )
    assert task_queue.queued == []


def test_an_operator_reads_and_acts_through_the_operator_api(a_portal_and_its_bot):
    _, bot = a_portal_and_its_bot
    user = get_user_model().objects.create_user("olga", is_staff=True)
    user.groups.add(ensure_operators_group())
    client = _api_client(user)
    event = EventLogEntry.objects.get()
    assert client.get(f"/api/ops/events/{event.pk}/").json()["payload"] == {"text": "private"}
    assert client.post(f"/api/ops/bots/{bot.pk}/pause/").json()["status"] == "paused"


@pytest.mark.parametrize(
    ("changelist", "action"),
    [("tenants/portal", "uninstall_portals"), ("tenants/portal", "reverify_session"),
     ("botcore/bot", "pause_bots"), ("botcore/bot", "reprovision_bots")],
)  # fmt: skip
def test_the_admin_offers_an_action_only_to_those_who_may_change_the_model(
    a_portal_and_its_bot, changelist, action
):
    """Django offers an action that names no right to whoever may view the list: the admin held view-only
    accounts to less than the operator API now does."""
    portal, bot = a_portal_and_its_bot
    viewer = get_user_model().objects.create_user("vera", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__in=["view_portal", "view_bot"]))
    client = Client()
    client.force_login(viewer)
    url = f"/admin/{changelist}/"
    assert action not in client.get(url).content.decode()

    pk = portal.pk if changelist == "tenants/portal" else bot.pk
    client.post(url, {"action": action, "_selected_action": [pk], "confirm": "yes"})

    assert (
        Portal.objects.get().status == Portal.Status.ACTIVE and Bot.objects.get().status == Bot.Status.ACTIVE
    )
    operator = get_user_model().objects.create_user("olga", is_staff=True)
    operator.groups.add(ensure_operators_group())
    client.force_login(operator)
    assert action in client.get(url).content.decode()


def test_the_fleet_dashboard_takes_the_rights_its_figures_count(a_portal_and_its_bot, operator):
    """From an outside probe: /admin/fleet/ showed the fleet to any staff account, as the API did."""
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("sam", is_staff=True))
    assert staff.get("/admin/fleet/").status_code == 403
    assert operator.get("/admin/fleet/").status_code == 200


def staff_with_rights(username: str, codenames: list[str]):
    user = get_user_model().objects.create_user(username, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


def an_operator(username: str):
    user = get_user_model().objects.create_user(username, is_staff=True)
    user.groups.add(ensure_operators_group())
    return user


def offered_then_run(user, url: str, action: str, pk: int) -> bool:
    """Whether the admin list at `url` offers `user` the action; then posts it on row `pk` all the same (as
    a hand-made request would)."""
    client = Client()
    client.force_login(user)
    page = client.get(url)
    assert page.status_code == 200
    client.post(url, {"action": action, "_selected_action": [pk]})
    return action in page.content.decode()


@pytest.mark.usefixtures("a_portal_and_its_bot")
def test_replaying_events_takes_a_right_of_its_own():
    """The event log's admin has no change right (entries are the platform's record), so its replay named
    none and Django offered it to whoever may read the log: a read-only account re-ran failed events
    through today's skills, posting to the portals' chats. Replay is `botcore.replay_eventlogentry`, which
    the Operators group holds."""
    entry = EventLogEntry.objects.get()
    EventLogEntry.objects.filter(pk=entry.pk).update(status=EventLogEntry.Status.FAILED, attempts=3)
    url, replay = "/admin/botcore/eventlogentry/", ("replay_events", entry.pk)
    viewer = staff_with_rights("vera", ["view_eventlogentry", "view_bot"])

    assert not offered_then_run(viewer, url, *replay)
    assert EventLogEntry.objects.get().status == EventLogEntry.Status.FAILED

    assert offered_then_run(an_operator("olga"), url, *replay)
    assert EventLogEntry.objects.get().status == EventLogEntry.Status.RECEIVED


def test_running_a_skill_run_again_takes_a_right_of_its_own(a_portal_and_its_bot):
    """From an operator trial: "Run again" on skill runs named no right, so Django offered it to whoever may
    read the runs, and a read-only account re-ran a scheduled run (a standup's question to every participant,
    a summary to the group chat), as event replay did before it had `botcore.replay_eventlogentry`. It is
    `botcore.rerun_skillrun`, which the Operators group holds."""
    portal, _ = a_portal_and_its_bot
    run = SkillRun.objects.create(
        portal=portal, skill_name="standup", kind=SkillRun.Kind.SCHEDULED, run_key="schedule:ask:1",
        status=SkillRun.Status.FAILED, attempts=5, error="boom",
    )  # fmt: skip
    url, run_again = "/admin/botcore/skillrun/", ("run_again", run.pk)
    viewer = staff_with_rights("vera", ["view_skillrun", "view_portal"])

    assert not offered_then_run(viewer, url, *run_again)
    assert SkillRun.objects.get().status == SkillRun.Status.FAILED

    assert offered_then_run(an_operator("olga"), url, *run_again)
    assert SkillRun.objects.get().status == SkillRun.Status.PENDING


@pytest.mark.parametrize(
    ("migration_name", "grant", "codename"),
    [
        ("0010_eventlogentry_replay_right", "grant_replay_to_operators", "replay_eventlogentry"),
        ("0011_skillrun_rerun_right", "grant_rerun_to_operators", "rerun_skillrun"),
    ],
)
def test_migrate_gives_a_group_made_before_a_right_that_right(migration_name, grant, codename):
    """An Operators group made before replaying events (or running skill runs again) had a right of its own
    keeps what it could do: the migration makes the right (Django makes rights after the whole migrate) and
    gives it to the group."""
    Permission.objects.filter(codename=codename).delete()  # as before the migration
    group = Group.objects.create(name="Operators")
    group.permissions.set(Permission.objects.filter(content_type__app_label="botcore"))
    migration = import_module(f"botcore.migrations.{migration_name}")
    state = MigrationExecutor(connection).loader.project_state(("botcore", migration_name))

    getattr(migration, grant)(state.apps, SimpleNamespace(connection=connection))

    assert group.permissions.filter(codename=codename).exists()
