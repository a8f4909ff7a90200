"""The operator API: staff with the admin's rights (token or admin session), portals/bots/events read,
actions through the lifecycle, never a secret in an answer; /api/schema/ is a valid OpenAPI 3 document of
every API."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from botcore import conf
from botcore.models import Bot, EventLogEntry
from ops.operators import ensure_operators_group
from ops.tokens import issue_operator_token
from tenants.models import Portal, SessionGrant

pytestmark = pytest.mark.django_db


def token_client(*, staff: bool, name: str = "") -> APIClient:
    """An operator as create_operator makes one (staff, in the Operators group), or one with neither."""
    user = get_user_model().objects.create_user(
        name or f"user-{staff}", password="pw-for-tests-only", is_staff=staff
    )
    if staff:
        user.groups.add(ensure_operators_group())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_operator_token(user)[0]}")
    return client


@pytest.fixture
def fleet():
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="vp1", domain="acme.bitrix24.com")
    SessionGrant.objects.create(
        portal=portal,
        bitrix_user_id=1,
        is_admin=True,
        source="gateway",
        token="vibe_session_" + "s" * 30,
        expires_at=timezone.now() + timedelta(hours=3),
    )
    bot = Bot.objects.create(
        portal=portal, code="b", name="Acme bot", status=Bot.Status.ACTIVE, vibe_bot_id=5
    )
    EventLogEntry.objects.create(
        bot=bot,
        vibe_event_id=1,
        event_type="ONIMBOTV2MESSAGEADD",
        payload={"text": "hi"},
        status=EventLogEntry.Status.FAILED,
        error="boom",
    )
    return portal, bot


@pytest.mark.slow
@pytest.mark.parametrize(
    "url", ["/api/ops/", "/api/ops/fleet/", "/api/ops/portals/", "/api/ops/bots/", "/api/ops/events/"]
)
def test_only_staff_get_in(url):
    assert APIClient().get(url).status_code == 401
    assert token_client(staff=False).get(url).status_code == 403
    assert token_client(staff=True).get(url).status_code == 200


@pytest.mark.slow
def test_the_root_lists_where_each_part_of_the_api_is(fleet):
    operator = token_client(staff=True)
    root = operator.get("/api/ops/")
    assert root.status_code == 200
    listed = root.json()
    assert set(listed) == {"fleet", "portals", "bots", "events", "schema"}
    for name, url in listed.items():
        assert url.startswith("http://testserver/api/"), name
        assert operator.get(url).status_code == 200, name


def test_portals_bots_and_events_read_with_filters_and_no_secret(fleet):
    portal, bot = fleet
    client = token_client(staff=True)
    portals = client.get("/api/ops/portals/", {"status": "active"}).json()
    assert portals["count"] == 1 and portals["results"][0]["domain"] == "acme.bitrix24.com"
    assert portals["results"][0]["bestTokenExpiresAt"] and portals["results"][0]["hasPersonalKey"] is False
    assert client.get("/api/ops/bots/", {"portal": portal.pk, "status": "active"}).json()["count"] == 1
    assert client.get("/api/ops/bots/", {"portal": "not-an-id"}).status_code == 400
    events = client.get("/api/ops/events/", {"status": "failed", "bot": bot.pk}).json()
    assert len(events["results"]) == 1 and "payload" not in events["results"][0]
    detail = client.get(f"/api/ops/events/{events['results'][0]['id']}/").json()
    assert detail["payload"] == {"text": "hi"}
    everything = "".join(
        client.get(u).content.decode() for u in ("/api/ops/portals/", f"/api/ops/portals/{portal.pk}/")
    )
    everything = everything.replace("TokenExpiresAt", "").replace("token_expires_at", "")
    assert "vibe_session_" not in everything and "token" not in everything


def test_a_crash_in_the_api_answers_json(fleet, monkeypatch):
    """From an operator trial: a reverify that crashed answered Django's HTML 500 page to an API client."""

    def crash():
        raise RuntimeError("a bug")

    monkeypatch.setattr("ops.api.gather_fleet", crash)
    client = token_client(staff=True)
    client.raise_request_exception = False
    answer = client.get("/api/ops/fleet/")
    assert answer.status_code == 500 and answer["Content-Type"] == "application/json"
    assert "server error" in answer.json()["detail"] and "a bug" not in answer.content.decode()


@pytest.mark.parametrize("path", ["/api/ops/bots/abc/", "/api/ops/nothing-here/", "/api/skills/x/y/"])
def test_a_path_no_route_takes_under_api_answers_json(path):
    """From an integrator's trial: a non-numeric id (no route takes it) answered Django's HTML 404 page to a
    client parsing JSON, as every other answer there is."""
    answer = token_client(staff=True).get(path)
    assert answer.status_code == 404 and answer["Content-Type"] == "application/json"
    assert "detail" in answer.json()


def test_the_fleet_s_counts_are_whole_numbers(fleet):
    """Every figure of a list (portals and bots by status, failing skills and portals) came as 1.0, 0.0."""
    figures = token_client(staff=True).get("/api/ops/fleet/").json()
    listed = [f for name in ("portals", "bots", "failing_skills", "failing_portals") for f in figures[name]]
    assert listed and all(type(f["value"]) is int for f in listed), listed


@pytest.mark.slow
def test_bot_pause_and_resume(fleet):
    _, bot = fleet
    client = token_client(staff=True)
    assert client.post(f"/api/ops/bots/{bot.pk}/pause/").json()["status"] == "paused"
    assert client.post(f"/api/ops/bots/{bot.pk}/resume/").json()["status"] == "active"


@pytest.mark.parametrize("action", ["pause", "resume", "reprovision"])
def test_an_action_on_a_retired_bot_is_refused_saying_why(fleet, action, task_queue):
    """From an outside trial: each answered 200 and did nothing (re-provision failed later in the queue)."""
    portal, bot = fleet
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RETIRED)
    Portal.objects.filter(pk=portal.pk).update(status=Portal.Status.UNINSTALLED)

    answer = token_client(staff=True).post(f"/api/ops/bots/{bot.pk}/{action}/")

    assert answer.status_code == 409 and "retired" in answer.json()["detail"]
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.RETIRED
    assert task_queue.queued == []


def test_a_reminder_the_bot_cannot_send_is_not_reported_sent(fleet):
    """Needs a session: no usable session or key, so the bot could write to nobody (it said "sent" before)."""
    from tenants import signals

    portal, _ = fleet
    SessionGrant.objects.filter(portal=portal).update(expires_at=timezone.now() - timedelta(minutes=1))
    heard = []
    signals.portal_session_expiring.connect(lambda **kw: heard.append(kw), weak=False, dispatch_uid="t")
    try:
        answer = token_client(staff=True).post(f"/api/ops/portals/{portal.pk}/remind/")
    finally:
        signals.portal_session_expiring.disconnect(dispatch_uid="t")
    result = answer.json()
    assert (
        result["ok"] is False
        and "oauth_invite" in result["message"]
        and portal.member_id in result["message"]
    )
    assert heard == [] and Portal.objects.get(pk=portal.pk).expiry_warned_at is None


@pytest.mark.slow
def test_portal_actions_go_through_the_lifecycle(fleet, settings, django_capture_on_commit_callbacks):
    portal, _ = fleet
    settings.VIBE_APP_KEY, settings.VIBE_BASE_URL, settings.VIBE_MAX_ATTEMPTS = (
        "vibe_app_" + "t" * 40,
        "http://127.0.0.1:9/v1",
        1,
    )
    client = token_client(staff=True)
    reminded = client.post(f"/api/ops/portals/{portal.pk}/remind/")
    assert reminded.status_code == 200 and reminded.json()["ok"]
    with django_capture_on_commit_callbacks(execute=True):
        gone = client.post(f"/api/ops/portals/{portal.pk}/uninstall/")
    assert gone.status_code == 200 and Portal.objects.get().status == Portal.Status.UNINSTALLED
    assert client.post(f"/api/ops/portals/{portal.pk}/uninstall/").status_code == 409
    assert client.post(f"/api/ops/portals/{portal.pk}/reverify/").status_code == 409
    assert client.post("/api/ops/portals/999999999999999999999/remind/").status_code == 404


def test_the_schema_names_every_api():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    assert schema["openapi"].startswith("3.")
    assert {
        "/api/ops/portals/{id}/uninstall/",
        "/api/ops/events/",
        "/api/ops/fleet/",
        "/api/skills/{name}/",
    } <= set(schema["paths"])


def test_create_operator_makes_a_staff_account_whose_token_opens_the_api(capsys):
    from django.core.management import call_command

    call_command("create_operator", "olga", "--no-password", "--api-token")
    user = get_user_model().objects.get(username="olga")
    assert user.is_staff and not user.is_superuser and user.groups.filter(name="Operators").exists()
    assert user.has_perm("tenants.view_portal") and not user.has_perm("auth.add_user")
    token = capsys.readouterr().out.rsplit(": ", 1)[-1].strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/ops/portals/").status_code == 200


@pytest.mark.parametrize(
    ("path", "field", "says"),
    [
        ("/api/ops/portals/?domain=acme.bitrix24.com", "domain", "not a filter of this list"),
        ("/api/ops/bots/?search=acme", "search", "not a filter of this list"),
        ("/api/ops/portals/?status=bogus", "status", "one of active"),
        ("/api/ops/events/?status=done", "status", "one of received"),
    ],
)
def test_a_filter_the_list_does_not_take_or_a_value_no_row_can_have_is_a_400_saying_so(
    fleet, path, field, says
):
    """From an operator trial: `?domain=` returned all 201 portals and `?status=bogus` an empty 200."""
    answer = token_client(staff=True).get(path)
    assert answer.status_code == 400 and says in str(answer.json()[field])


@pytest.mark.parametrize(
    "path",
    [
        "/api/ops/events/?status=failed&status=handled",
        "/api/ops/bots/?portal=1&portal=2",
        "/api/ops/portals/?limit=500&limit=1",
        "/api/ops/events/?bot=1&bot=",
    ],
)
def test_a_parameter_given_twice_is_a_400_naming_it(fleet, path):
    """From an integrator's trial: `?status=failed&status=handled` (a script building `status=` from a list)
    listed only the handled events, the last value, as if the first had never been asked for; the schema
    says each parameter is one value."""
    answer = token_client(staff=True).get(path)
    name = path.rsplit("&", 1)[1].split("=")[0]
    assert answer.status_code == 400 and "once" in str(answer.json()[name])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/ops/portals/{portal}/?status=uninstalled"),
        ("get", "/api/ops/bots/{bot}/?status=paused"),
        ("post", "/api/ops/bots/{bot}/pause/?portal=999"),
        ("get", "/api/ops/events/{event}/?bot=999"),
    ],
)
def test_a_list_s_filter_on_one_row_or_an_action_is_a_400_naming_it(fleet, method, path):
    """From an integrator's trial: a detail page and an action took their list's filters, unlisted in the
    schema: `GET /api/ops/portals/1/?status=uninstalled` answered 404 for an active portal 1, as if it did not
    exist, and a pause posted with `?portal=` of another portal was a 404 too."""
    portal, bot = fleet
    event = EventLogEntry.objects.get()
    url = path.format(portal=portal.pk, bot=bot.pk, event=event.pk)
    answer = getattr(token_client(staff=True), method)(url)
    name = url.rsplit("?", 1)[1].split("=")[0]
    assert answer.status_code == 400 and "not a parameter" in str(answer.json()[name])
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.ACTIVE


def test_paging_and_known_filters_still_work(fleet):
    portal, _ = fleet
    answer = token_client(staff=True).get(
        "/api/ops/bots/", {"portal": portal.pk, "status": "active", "limit": 5}
    )
    assert answer.status_code == 200 and answer.json()["count"] == 1


def test_the_fleet_names_the_processes_and_their_releases(fleet):
    from ops.heartbeat import record_heartbeat
    from ops.release import running_release

    record_heartbeat(kind="qcluster", force=True)
    figures = token_client(staff=True).get("/api/ops/fleet/").json()
    assert figures["releases"] == [running_release()]
    assert {(p["kind"], p["release"], p["is_alive"]) for p in figures["processes"]} == {
        ("web", running_release(), True),
        ("qcluster", running_release(), True),
    }


def test_paging_the_event_log_by_next_repeats_and_skips_nothing_while_events_arrive(fleet):
    """From an integrator's trial: paging 5,319 events newest first (limit 100) while 1,500 arrived gave
    1,337 rows twice: each new event pushed the older ones a place further down the offsets. `next` now
    keeps to the events that were there at the first page (`until`), so a nightly listing sees each once."""
    _, bot = fleet

    def arrive(first: int, count: int) -> None:
        for number in range(first, first + count):
            EventLogEntry.objects.create(
                bot=bot, vibe_event_id=number, event_type="ONIMBOTV2MESSAGEADD", payload={}, status="handled"
            )

    arrive(100, 11)
    there = set(EventLogEntry.objects.values_list("pk", flat=True))
    client = token_client(staff=True)
    seen: list[int] = []
    url: str | None = "/api/ops/events/?limit=5&offset=0"  # the deprecated offset pages
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
        arrive(200 + len(seen), 3)  # newer events land between two pages
    assert sorted(seen) == sorted(there)
    assert page["count"] == len(there)


def _follow(client: APIClient, url: str | None, between) -> list[int]:
    """Every row's id along the `next` links from `url`, calling `between(page)` after each page."""
    seen: list[int] = []
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
        between(page)
    return seen


def test_cursor_pages_skip_nothing_and_repeat_nothing_while_rows_join_and_leave_the_list(fleet):
    """A nightly script collecting `?status=failed` while the failed ones were replayed (each leaving the
    list) and new ones failed: on offset pages each replayed row moved the older ones a place up, so as
    many were never listed. Cursor pages go on from the last row shown."""
    _, bot = fleet
    start = timezone.now() - timedelta(hours=1)
    EventLogEntry.objects.all().delete()

    def fail(first: int, count: int, *, after: timedelta) -> None:
        for number in range(first, first + count):
            EventLogEntry.objects.create(
                bot=bot, vibe_event_id=number, event_type="ONIMBOTV2MESSAGEADD", payload={}, status="failed",
                received_at=start + after + timedelta(seconds=number),
            )  # fmt: skip

    fail(0, 17, after=timedelta(0))
    there = set(EventLogEntry.objects.values_list("pk", flat=True))

    def meanwhile(page: dict) -> None:
        shown = [row["id"] for row in page["results"]]
        EventLogEntry.objects.filter(pk__in=shown).update(status="received")  # replayed: they leave the list
        fail(1000 + len(shown) * 100 + EventLogEntry.objects.count(), 2, after=timedelta(minutes=30))

    seen = _follow(token_client(staff=True), "/api/ops/events/?status=failed&limit=5", meanwhile)

    assert len(seen) == len(set(seen)) and set(seen) == there


def test_cursor_pages_keep_to_the_newest_first_order_and_the_filters(fleet):
    _, bot = fleet
    start = timezone.now() - timedelta(hours=1)
    for number in range(2, 14):  # the fixture's event is 1
        EventLogEntry.objects.create(
            bot=bot, vibe_event_id=number, event_type="ONIMBOTV2MESSAGEADD", payload={},
            status="failed" if number % 2 else "handled", received_at=start + timedelta(seconds=number // 3),
        )  # fmt: skip  # three at each second: rows that share a received time

    client = token_client(staff=True)
    every = _follow(client, "/api/ops/events/?limit=4", lambda page: None)
    failed = _follow(client, "/api/ops/events/?limit=4&status=failed", lambda page: None)

    newest_first = list(EventLogEntry.objects.order_by("-received_at", "-pk").values_list("pk", flat=True))
    assert every == newest_first
    assert failed == [pk for pk in newest_first if EventLogEntry.objects.get(pk=pk).status == "failed"]
    first = client.get("/api/ops/events/?limit=4").json()
    assert "count" not in first and first["previous"] is None and "cursor=" in first["next"]
    assert client.get("/api/ops/events/?limit=0").status_code == 400
    assert client.get("/api/ops/events/?cursor=not-a-cursor").status_code == 404


@pytest.mark.parametrize(
    "position",
    [
        "zzz",
        "2026-13-45 10:00:00+00:00",
        "2026-12-06 21:25:48+99:00",
        "0001-01-01 00:00:00+05:00",
        "2026-12-06",
        "\x00",
        "9" * 300,
    ],
)
def test_a_cursor_whose_position_is_no_time_is_refused_as_any_invalid_cursor(fleet, position):
    """From an integrator's trial: a cursor is base64 of `p=<received time>`, and one decoding to anything but
    a time (a script's truncated copy, a hand-made one) was compared with the received times as it was:
    Django's ValidationError (or ValueError) was a 500, the cursor written whole into the ERROR log."""
    forged = base64.b64encode(urlencode({"p": position}).encode()).decode()
    answer = token_client(staff=True).get("/api/ops/events/", {"cursor": forged})
    assert (answer.status_code, answer.json()) == (404, {"detail": "Invalid cursor"})


def test_the_schema_offers_the_cursor_and_deprecates_the_event_offsets():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/ops/events/"]["get"]["parameters"]}
    assert "cursor" in parameters and not parameters["cursor"].get("deprecated")
    assert parameters["offset"]["deprecated"] and parameters["until"]["deprecated"]


def test_an_event_page_bound_is_an_id(fleet):
    answer = token_client(staff=True).get("/api/ops/events/", {"until": "x"})
    assert answer.status_code == 400 and "must be an id" in str(answer.json()["until"])


@pytest.mark.parametrize(
    ("action", "line"), [("pause", "paused"), ("resume", "resumed"), ("reprovision", "re-provisioning")]
)
def test_a_bot_action_names_the_operator_in_the_log(fleet, action, line, caplog, task_queue):
    """From an integrator's trial: a portal action logs who did it (`operator=`), but pausing, resuming or
    re-provisioning a bot left no word of who did it anywhere."""
    _, bot = fleet
    with caplog.at_level("INFO"):
        assert token_client(staff=True).post(f"/api/ops/bots/{bot.pk}/{action}/").status_code == 200
    said = [r.getMessage() for r in caplog.records if "operator=user-True" in r.getMessage()]
    assert len(said) == 1 and line in said[0] and f"bot={bot.pk}" in said[0]


def test_a_bot_re_provisioned_again_while_its_provisioning_waits_is_provisioned_once(
    fleet, task_queue, settings
):
    """From an integrator's trial: each re-provision queued a provisioning of its own, past the stamp that
    keeps one of a bot queued or running: five POSTs at once registered the bot five times with the platform
    (5 registrations, 10 command syncs), each holding a worker, and a fuzzer's loop on a bot whose portal
    needs a session queued 161 in three minutes, each failing with a traceback. A second one waits is a 409
    saying so; once the provisioning has ended, the bot may be re-provisioned again."""
    settings.VIBE_BASE_URL, settings.VIBE_MAX_ATTEMPTS = "http://127.0.0.1:9/v1", 1
    _, bot = fleet
    Bot.objects.filter(pk=bot.pk).update(code=conf.bot_code())  # the bot a provisioning provisions
    client = token_client(staff=True)
    first = client.post(f"/api/ops/bots/{bot.pk}/reprovision/")
    again = client.post(f"/api/ops/bots/{bot.pk}/reprovision/")
    assert first.status_code == 200
    assert again.status_code == 409 and "already" in again.json()["detail"]
    assert task_queue.names() == ["botcore.tasks.provision_portal_bot"]

    task_queue.run(allow_failures=True)  # no platform at that address: it fails, and frees the bot's stamp
    assert client.post(f"/api/ops/bots/{bot.pk}/reprovision/").status_code == 200
    assert task_queue.names() == ["botcore.tasks.provision_portal_bot"]


def test_a_bot_whose_portal_has_no_session_left_is_not_re_provisioned_and_the_answer_says_why(
    fleet, task_queue, caplog
):
    """Re-provisioning a bot whose portal had no session left (and no personal key) answered 200, then failed
    in the task queue with an ERROR and its traceback, each time it was asked (a fuzzer's loop: 161 in three
    minutes). Nothing could register it: the answer says it waits for a portal user to open the app (409),
    nothing is queued, one WARNING names the operator."""
    portal, bot = fleet
    SessionGrant.objects.filter(portal=portal).update(expires_at=timezone.now() - timedelta(minutes=1))
    client = token_client(staff=True)
    with caplog.at_level("INFO"):
        answers = [client.post(f"/api/ops/bots/{bot.pk}/reprovision/") for _ in range(2)]
    assert [answer.status_code for answer in answers] == [409, 409]
    detail = answers[0].json()["detail"]
    assert "acme.bitrix24.com: waits for a portal user to open the app" in detail
    assert task_queue.queued == []
    assert not [r for r in caplog.records if r.levelno >= 40 or r.exc_info]
    said = [r for r in caplog.records if "operator=user-True" in r.getMessage()]
    warned = [r for r in said if r.levelname == "WARNING"]
    assert len(warned) == 2 and "waits for a portal user to open the app" in warned[0].getMessage()
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.ACTIVE  # left as it was


def test_a_failed_event_is_replayed_once_through_the_api(fleet, caplog):
    """From an integrator's trial: a nightly script could list failed events but replay them only by driving
    the admin's pages. A second replay of the same event (two operators at once) changes nothing."""
    entry = EventLogEntry.objects.get(status=EventLogEntry.Status.FAILED)
    client = token_client(staff=True)
    with caplog.at_level("INFO"):
        first = client.post(f"/api/ops/events/{entry.pk}/replay/")
        again = client.post(f"/api/ops/events/{entry.pk}/replay/")
    assert first.status_code == 200 and first.json()["ok"] is True
    assert again.status_code == 409 and again.json() == {"ok": False, "message": again.json()["message"]}
    assert "waits for its handler" in again.json()["message"]
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.RECEIVED and entry.attempts == 0
    assert sum("replayed by operator" in r.getMessage() for r in caplog.records) == 1


def test_replaying_takes_the_replay_right_not_only_reading_the_log(fleet):
    entry = EventLogEntry.objects.get(status=EventLogEntry.Status.FAILED)
    reader = get_user_model().objects.create_user("reader", password="pw-for-tests-only", is_staff=True)
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="view_eventlogentry"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_operator_token(reader)[0]}")
    assert client.get(f"/api/ops/events/{entry.pk}/").status_code == 200
    assert client.post(f"/api/ops/events/{entry.pk}/replay/").status_code == 403
    assert EventLogEntry.objects.get(pk=entry.pk).status == EventLogEntry.Status.FAILED


def test_a_waiting_event_is_given_up_once_through_the_api(fleet, caplog):
    """An event whose skill keeps running past the queue's timeout holds its bot's later events: the admin's
    *Give up on waiting events* was the only way to let the bot go on, which a script could not drive. The
    API gives one up as the admin's action does (give_up_entries); a second time, or an event not waiting,
    is a 409 saying why and changes nothing."""
    _, bot = fleet
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_event_id=2, event_type="ONIMBOTV2MESSAGEADD", payload={"text": "slow"},
        status=EventLogEntry.Status.RECEIVED, attempts=2, error="an earlier attempt did not finish",
    )  # fmt: skip
    failed = EventLogEntry.objects.get(vibe_event_id=1)
    client = token_client(staff=True, name="olga")
    with caplog.at_level("INFO"):
        first = client.post(f"/api/ops/events/{entry.pk}/give-up/")
        again = client.post(f"/api/ops/events/{entry.pk}/give-up/")
        not_waiting = client.post(f"/api/ops/events/{failed.pk}/give-up/")
    assert first.status_code == 200 and first.json()["ok"] is True
    assert again.status_code == 409 and again.json() == {"ok": False, "message": again.json()["message"]}
    assert "failed" in again.json()["message"] and not_waiting.status_code == 409
    entry.refresh_from_db()
    assert entry.status == EventLogEntry.Status.FAILED and "given up by an operator (olga)" in entry.error
    assert EventLogEntry.objects.get(pk=failed.pk).error == "boom"  # left as it was
    assert [r.getMessage() for r in caplog.records if "given up by operator" in r.getMessage()] == [
        "waiting events given up by operator count=1 operator=olga"
    ]


def test_giving_up_an_event_takes_the_replay_right_not_only_reading_the_log(fleet):
    """The admin's action takes *Can replay failed events* (botcore.replay_eventlogentry): the API's too."""
    _, bot = fleet
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_event_id=2, event_type="ONIMBOTV2MESSAGEADD", payload={}, status="received"
    )
    reader = get_user_model().objects.create_user("reader", password="pw-for-tests-only", is_staff=True)
    from django.contrib.auth.models import Permission

    reader.user_permissions.add(Permission.objects.get(codename="view_eventlogentry"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_operator_token(reader)[0]}")
    assert client.post(f"/api/ops/events/{entry.pk}/give-up/").status_code == 403
    assert APIClient().post(f"/api/ops/events/{entry.pk}/give-up/").status_code == 401
    assert token_client(staff=False).post(f"/api/ops/events/{entry.pk}/give-up/").status_code == 403
    assert EventLogEntry.objects.get(pk=entry.pk).status == EventLogEntry.Status.RECEIVED
    reader.user_permissions.add(Permission.objects.get(codename="replay_eventlogentry"))
    assert client.post(f"/api/ops/events/{entry.pk}/give-up/").status_code == 200
    assert client.get(f"/api/ops/events/{entry.pk}/give-up/").status_code == 405


def test_the_schema_documents_giving_up_an_event():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/ops/events/{id}/give-up/"]["post"]
    assert {"200", "400", "409", "415"} <= set(operation["responses"]) and "requestBody" not in operation
    assert "later events" in operation["description"]


def test_the_schema_documents_each_answer_the_operator_api_gives(fleet):
    """From an integrator's trial: every operation listed only its 200 (the portal actions also their 409),
    while the API answers 400 naming a parameter, 401 and 403 `{detail}`, 404 for an unknown id and 409 for
    an action on a retired bot; and the lists' filters were listed on every detail page and action. A later
    one: the event log's 404 for a cursor it cannot read was not listed either."""
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    for path, operations in paths.items():
        if not path.startswith("/api/ops/"):
            continue
        for method, operation in operations.items():
            answers = operation["responses"]
            cursor = "cursor" in {parameter["name"] for parameter in operation.get("parameters", ())}
            assert {"401", "403"} <= set(answers), (method, path)
            assert ("404" in answers) == ("{id}" in path or cursor), (method, path)
            if path.endswith(("/pause/", "/resume/", "/reprovision/")):
                assert "409" in answers, path
    assert "400" in paths["/api/ops/bots/"]["get"]["responses"]
    assert [p["name"] for p in paths["/api/ops/bots/{id}/pause/"]["post"]["parameters"]] == ["id"]

    _, bot = fleet
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.RETIRED)
    Portal.objects.filter(pk=bot.portal_id).update(status=Portal.Status.UNINSTALLED)
    refused = token_client(staff=True).post(f"/api/ops/bots/{bot.pk}/pause/")
    detail = schema["components"]["schemas"]["Detail"]
    assert refused.status_code == 409 and set(refused.json()) == set(detail["properties"])


def test_a_script_tells_the_bots_backing_off_now_and_when_a_waiting_event_is_tried_again(fleet):
    """From an integrator's trial: after a platform outage five bots showed `consecutive_failures` > 0 while
    the fleet counted one backing off (an idle bot keeps its count until its next cycle), and a waiting
    event's next attempt, which the admin shows, was not in the API."""
    _, bot = fleet
    soon = timezone.now() + timedelta(minutes=3)
    Bot.objects.filter(pk=bot.pk).update(backoff_until=soon, consecutive_failures=4)
    EventLogEntry.objects.filter(bot=bot).update(status="received", attempts=1, next_attempt_at=soon)
    client = token_client(staff=True)
    [listed] = client.get("/api/ops/bots/", {"status": "active"}).json()["results"]
    [waiting] = client.get("/api/ops/events/", {"status": "received"}).json()["results"]
    assert listed["backoff_until"] == waiting["next_attempt_at"] == soon.isoformat().replace("+00:00", "Z")
    assert client.get("/api/ops/fleet/").json()["bots_backing_off"] == 1


@pytest.mark.parametrize("word", ["Token", "Bearer", "bearer"])
def test_the_api_takes_its_token_under_either_usual_word(word):
    """From an integrator's trial: `Authorization: Bearer …`, what most HTTP clients send and what /metrics
    takes, was answered "Authentication credentials were not provided."."""
    user = get_user_model().objects.create_user("olga", password="pw-for-tests-only", is_staff=True)
    user.groups.add(ensure_operators_group())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{word} {issue_operator_token(user)[0]}")
    assert client.get("/api/ops/portals/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"{word} not-a-token")
    assert client.get("/api/ops/portals/").status_code == 401


@pytest.mark.parametrize(
    ("query", "named"),
    [("limit=abc", "limit"), ("limit=0", "limit"), ("limit=-1", "limit"), ("limit=2.5", "limit"),
     ("offset=-5", "offset"), ("offset=x", "offset")],
)  # fmt: skip
def test_a_page_size_or_offset_that_is_no_whole_number_is_a_400_naming_it(query, named):
    """From an integrator's trial: `limit=abc`, `0` and `-1` silently gave pages of 50, where an unknown
    filter is a 400: a script's typo read as the default."""
    client = token_client(staff=True)
    answer = client.get(f"/api/ops/portals/?{query}")
    assert answer.status_code == 400 and named in answer.json(), answer.content
    assert client.get("/api/ops/portals/?limit=900&offset=0").status_code == 200  # past the most: the most


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/ops/bots/{bot}/"),
        ("delete", "/api/ops/bots/{bot}/"),
        ("patch", "/api/ops/portals/{portal}/"),
        ("post", "/api/ops/events/"),
        ("get", "/api/ops/bots/{bot}/pause/"),
        ("delete", "/api/ops/fleet/"),
    ],
)
def test_a_method_the_path_does_not_take_is_a_405_for_an_operator_and_changes_nothing(fleet, method, path):
    """An operator's script sending the wrong method learns that, not that it lacks a right it has."""
    portal, bot = fleet
    answer = getattr(token_client(staff=True), method)(path.format(bot=bot.pk, portal=portal.pk))
    assert answer.status_code == 405, answer.content
    assert "detail" in answer.json()
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.ACTIVE
    assert Portal.objects.filter(pk=portal.pk).exists() and Bot.objects.count() == 1


def test_a_method_the_path_does_not_take_still_needs_an_operator(fleet):
    _, bot = fleet
    assert APIClient().put(f"/api/ops/bots/{bot.pk}/").status_code == 401
    assert token_client(staff=False).delete(f"/api/ops/bots/{bot.pk}/").status_code == 403


def test_the_schema_lists_each_status_filter_s_values():
    """A client generated from the schema offered any text for `?status=`, which the API answers 400."""
    paths = APIClient().get("/api/schema/", {"format": "json"}).json()["paths"]
    for path, model in (
        ("/api/ops/portals/", Portal),
        ("/api/ops/bots/", Bot),
        ("/api/ops/events/", EventLogEntry),
    ):
        (status,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == "status"]
        assert sorted(status["schema"]["enum"]) == sorted(model.Status.values), path


def test_the_schema_bounds_each_number_the_lists_take_as_the_api_does(fleet):
    """From an integrator's trial: the schema offered any integer for `limit`, `offset`, `until` and the id
    filters, and a client sending `limit=0` (a schemathesis case) or a 19-digit id got the 400 the API gives
    a value it refuses. Each is bounded in the schema as it is in the API, and the bounds are accepted."""
    paths = APIClient().get("/api/schema/", {"format": "json"}).json()["paths"]
    bounds = {"limit": (1, None), "offset": (0, None), "until": (0, 10**18 - 1)}
    bounds |= {"bot": (0, 10**18 - 1), "portal": (0, 10**18 - 1)}
    client = token_client(staff=True)
    for path in ("/api/ops/portals/", "/api/ops/bots/", "/api/ops/events/"):
        for parameter in paths[path]["get"]["parameters"]:
            if parameter["name"] not in bounds:
                continue
            least, most = bounds[parameter["name"]]
            schema = parameter["schema"]
            assert (schema.get("minimum"), schema.get("maximum")) == (least, most), (path, parameter["name"])
            for value in (least, most):
                if value is not None:
                    answer = client.get(path, {parameter["name"]: value})
                    assert answer.status_code == 200, (path, parameter["name"], value, answer.json())


def test_a_portal_s_fields_are_all_snake_case_with_the_two_camel_case_names_kept_as_deprecated_aliases(fleet):
    """Every field of the operator API was snake_case but two of the portal's, which a client special-cased;
    they stay (deprecated, in the schema) beside their snake_case names until the API's next version."""
    portal, _ = fleet
    shown = token_client(staff=True).get(f"/api/ops/portals/{portal.pk}/").json()
    assert shown["best_token_expires_at"] == shown["bestTokenExpiresAt"] is not None
    assert shown["has_personal_key"] is shown["hasPersonalKey"] is False
    assert [
        name
        for name in shown
        if name != name.lower() and name not in ("bestTokenExpiresAt", "hasPersonalKey")
    ] == []
    properties = (
        APIClient()
        .get("/api/schema/", {"format": "json"})
        .json()["components"]["schemas"]["Portal"]["properties"]
    )
    assert properties["bestTokenExpiresAt"].get("deprecated") is True
    assert properties["hasPersonalKey"].get("deprecated") is True
    assert not properties["best_token_expires_at"].get("deprecated")


@pytest.mark.parametrize(
    "body, content_type",
    [
        ({"status": "handled", "ids": [1, 2, 3]}, "json"),
        ([1, 2, 3], "json"),
        ("{not json", "application/json"),
        ("ids=1&ids=2", "application/x-www-form-urlencoded"),
        ("give it up", "text/plain"),
    ],
)
def test_an_action_that_takes_no_body_refuses_one_and_does_nothing(fleet, body, content_type):
    """Each action takes its object from the URL alone: a body was read by none and dropped unsaid, so a
    script posting `{"ids": [1, 2, 3]}` to one event's give-up believed it had given up three. As a query
    parameter the API takes not (refuse_unknown_query_params): refused, and nothing done."""
    _, bot = fleet
    entry = EventLogEntry.objects.create(
        bot=bot, vibe_event_id=2, event_type="ONIMBOTV2MESSAGEADD", payload={}, status="received"
    )
    client = token_client(staff=True)
    url = f"/api/ops/events/{entry.pk}/give-up/"

    def post(to: str, sent):
        if content_type == "json":
            return client.post(to, sent, format="json")
        return client.post(to, sent, content_type=content_type)

    for answer in (post(url, body), post(f"/api/ops/bots/{bot.pk}/pause/", body)):
        assert answer.status_code in (400, 415), answer.content
        assert set(answer.json()) <= {"detail", "body"}, answer.json()
    assert EventLogEntry.objects.get(pk=entry.pk).status == EventLogEntry.Status.RECEIVED
    assert Bot.objects.get(pk=bot.pk).status == Bot.Status.ACTIVE
    # What clients send for "nothing" is nothing: no body, an empty one, {} and null.
    assert client.post(url, {}, format="json").status_code == 200
    for nothing in (None, ""):
        assert client.post(url, nothing, content_type="application/json").status_code == 409  # done already
    assert client.post(url).status_code == 409
