"""GET /v1/bots/{bot_id}/events over real HTTP: offsets as acknowledgements, limits, long-polling."""

from __future__ import annotations

import base64
import pickle
import threading

import httpx
import pytest

from sandbox import activity, event_queue
from sandbox.server import build_app
from tests.sandbox.helpers import client_for, error_of, register_bot, user_writes


def poll(client, bot_id, **params) -> dict:
    response = client.get(f"/bots/{bot_id}/events", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def write_messages(sandbox, tenant, bot_id, count: int) -> None:
    """JOINCHAT (event 1) and then `count` MESSAGEADD events."""
    for n in range(count):
        user_writes(sandbox, tenant.user_id, bot_id, f"message {n}")


def ids(batch: dict) -> list[int]:
    return [event["eventId"] for event in batch["events"]]


def test_an_empty_queue_answers_next_offset_zero(client, bot_id):
    assert poll(client, bot_id) == {
        "events": [],
        "nextOffset": 0,
        "hasMore": False,
        "storedOffset": 0,
        "persisted": True,
    }


def test_a_user_message_arrives_as_messageadd_with_the_reference_fields(sandbox, client, tenant, bot_id):
    message_id = user_writes(sandbox, tenant.user_id, bot_id, "Hi, bot!")
    batch = poll(client, bot_id)
    assert [e["type"] for e in batch["events"]] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    event = batch["events"][1]
    assert set(event) == {"eventId", "type", "date", "data"}
    data = event["data"]
    assert data["dialogId"] == str(tenant.user_id) == data["chat"]["dialogId"]
    assert data["bot"]["id"] == bot_id
    assert (data["message"]["id"], data["message"]["text"], data["message"]["authorId"]) == (
        message_id,
        "Hi, bot!",
        tenant.user_id,
    )
    assert data["user"]["firstName"] == "Anna"
    assert batch["nextOffset"] == event["eventId"] + 1
    assert batch["hasMore"] is False


def test_offset_acknowledges_the_events_below_it_and_the_rest_come_again(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 3)  # events 1..4
    assert ids(poll(client, bot_id)) == [1, 2, 3, 4]
    batch = poll(client, bot_id, offset=3)
    assert ids(batch) == [3, 4]
    assert batch["storedOffset"] == 3 and batch["persisted"] is True


def test_a_client_that_crashes_before_acknowledging_gets_the_batch_again(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 2)
    first = poll(client, bot_id)
    # the client died before sending nextOffset: the next poll (no offset) resumes from the stored one
    assert poll(client, bot_id) == first


def test_an_acknowledged_event_never_comes_again_even_with_offset_zero(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 2)
    next_offset = poll(client, bot_id)["nextOffset"]
    assert poll(client, bot_id, offset=next_offset)["events"] == []
    again = poll(client, bot_id, offset=0)
    assert again["events"] == [] and again["nextOffset"] == 0
    assert again["storedOffset"] == next_offset  # the stored offset never moves back
    write_messages(sandbox, tenant, bot_id, 1)
    assert ids(poll(client, bot_id, offset=0)) == [next_offset]


def test_without_offset_the_platform_resumes_from_the_stored_offset(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 3)
    poll(client, bot_id, offset=3)
    batch = poll(client, bot_id)
    assert ids(batch) == [3, 4] and batch["storedOffset"] == 3


def test_an_offset_past_the_queue_acknowledges_only_what_exists(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 1)  # events 1, 2
    assert poll(client, bot_id, offset=1000)["storedOffset"] == 3
    write_messages(sandbox, tenant, bot_id, 1)
    assert ids(poll(client, bot_id)) == [3]


def test_limit_cuts_the_batch_and_has_more_says_so(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 4)  # events 1..5
    batch = poll(client, bot_id, limit=2)
    assert ids(batch) == [1, 2] and batch["hasMore"] is True and batch["nextOffset"] == 3
    batch = poll(client, bot_id, offset=batch["nextOffset"], limit=2)
    assert ids(batch) == [3, 4] and batch["hasMore"] is True
    batch = poll(client, bot_id, offset=batch["nextOffset"], limit=2)
    assert ids(batch) == [5] and batch["hasMore"] is False


def test_the_default_limit_is_100_and_1000_is_allowed(sandbox, client, tenant, bot_id):
    def flood(services):
        platform = services.platform
        for n in range(150):
            event_queue.emit(platform, platform.bots[bot_id], "ONIMBOTV2CONTEXTGET", {"n": n})

    sandbox.run_in_loop(flood)
    default = poll(client, bot_id)
    assert len(default["events"]) == 100 and default["hasMore"] is True
    assert len(poll(client, bot_id, limit=1000)["events"]) == 150
    assert len(poll(client, bot_id, limit=1)["events"]) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "INVALID_LIMIT"),
        ({"limit": 1001}, "INVALID_LIMIT"),
        ({"limit": "ten"}, "INVALID_LIMIT"),
        ({"limit": -5}, "INVALID_LIMIT"),
        ({"limit": "2.5"}, "INVALID_LIMIT"),
        ({"offset": -1}, "INVALID_OFFSET"),
        ({"offset": "next"}, "INVALID_OFFSET"),
        ({"offset": "9" * 40}, "INVALID_OFFSET"),
        ({"timeout": 31}, "INVALID_TIMEOUT"),
        ({"timeout": -1}, "INVALID_TIMEOUT"),
        ({"timeout": "soon"}, "INVALID_TIMEOUT"),
        ({"timeout": "nan"}, "INVALID_TIMEOUT"),
    ],
)
def test_bad_query_values_are_400_with_a_clear_code(client, bot_id, params, code):
    response = client.get(f"/bots/{bot_id}/events", params=params)
    assert response.status_code == 400
    assert error_of(response) == code


def test_a_bad_limit_acknowledges_nothing(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 1)
    client.get(f"/bots/{bot_id}/events", params={"offset": 2, "limit": 0})
    assert poll(client, bot_id)["storedOffset"] == 0


def pending_on_platform(sandbox, bot_id) -> int:
    """How many events the platform still keeps for the bot, read without acknowledging any."""
    return sandbox.run_in_loop(lambda services: len(services.platform.bots[bot_id].events))


def test_a_head_request_acknowledges_nothing(sandbox, client, tenant, bot_id):
    """HEAD is GET without the body (RFC 9110 §9.3.2): nobody reads the events it would carry, so it must not
    acknowledge them. Before, Starlette ran the GET handler for it and `offset` acknowledged the batch."""
    write_messages(sandbox, tenant, bot_id, 2)  # events 1..3
    response = client.head(f"/bots/{bot_id}/events", params={"offset": 3})
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"] == "application/json"
    assert pending_on_platform(sandbox, bot_id) == 3
    batch = poll(client, bot_id)
    assert ids(batch) == [1, 2, 3] and batch["storedOffset"] == 0


def test_a_head_request_does_not_finish_a_deleted_bot(sandbox, client, tenant, bot_id):
    """Acknowledging a deleted bot's last event removes it: a HEAD past that event must not."""

    def delete_in_portal(services):
        platform = services.platform
        activity.delete_bot_from_portal(
            platform, user=platform.users[tenant.user_id], bot=platform.bots[bot_id]
        )

    sandbox.run_in_loop(delete_in_portal)
    last = poll(client, bot_id)["nextOffset"]
    assert client.head(f"/bots/{bot_id}/events", params={"offset": last}).status_code == 200
    assert [e["type"] for e in poll(client, bot_id)["events"]] == ["ONIMBOTV2DELETE"]


def test_a_head_request_changes_nothing_on_any_platform_read(sandbox, client, tenant):
    """Starlette answers HEAD on every GET route by running its handler: none of them may change the platform
    (compared whole, as --state-file would save it), events waiting and a file uploaded included."""
    bot_id = register_bot(client, type="supervisor")  # message reads answer supervisors only
    message_id = user_writes(sandbox, tenant.user_id, bot_id, "hello")
    fields = {"name": "a.txt", "content": base64.b64encode(b"x").decode()}
    uploaded = client.post(f"/bots/{bot_id}/files", json={"dialogId": str(tenant.user_id), "fields": fields})
    file_id = uploaded.json()["data"]["file"]["id"]
    reads = [
        route.path
        for route in build_app().routes
        if route.path.startswith("/v1/") and "GET" in (getattr(route, "methods", None) or ())
    ]
    assert "/v1/bots/{bot_id}/events" in reads and len(reads) > 10
    answered = {}
    for path in reads:
        url = path.removeprefix("/v1").format(
            bot_id=bot_id, message_id=message_id, dialog_id=tenant.user_id, file_id=file_id
        )
        before = sandbox.run_in_loop(lambda services: pickle.dumps(services.platform))
        answered[path] = client.head(url, params={"offset": 1000, "timeout": 5}).status_code
        assert sandbox.run_in_loop(lambda services: pickle.dumps(services.platform)) == before, path
    assert answered["/v1/bots/{bot_id}/events"] == 200
    assert answered["/v1/bots/{bot_id}/messages/{message_id}"] == 200
    assert answered["/v1/bots/{bot_id}/files/{file_id}"] == 200


def test_a_head_request_answers_its_refusals_as_get_does(client, bot_id):
    response = client.head(f"/bots/{bot_id}/events", params={"offset": -1})
    assert response.status_code == 400 and response.content == b""


def test_a_long_poll_returns_as_soon_as_an_event_arrives(sandbox, tenant, bot_id):
    # The poll asks to be held 30 s but the client gives up after 10: only an early wake-up can answer it.
    result: dict = {}

    def long_poll():
        with client_for(sandbox, tenant) as client:
            result["batch"] = poll(client, bot_id, timeout=30)

    poller = threading.Thread(target=long_poll)
    poller.start()
    waiting = threading.Event()
    for _ in range(500):
        if sandbox.run_in_loop(lambda s: bool(s.platform.bots[bot_id].waiters)):
            waiting.set()
            break
        threading.Event().wait(0.01)
    assert waiting.is_set(), "the long poll never started waiting"
    user_writes(sandbox, tenant.user_id, bot_id, "wake up")
    poller.join(timeout=15)
    assert [e["type"] for e in result["batch"]["events"]] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]


@pytest.mark.slow
def test_a_long_poll_without_events_answers_empty_after_the_timeout(client, bot_id):
    assert poll(client, bot_id, timeout=0.2)["events"] == []


def test_a_long_poll_with_events_waiting_answers_at_once(sandbox, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 1)
    with httpx.Client(base_url=sandbox.base_url, headers=tenant.headers, timeout=5) as client:
        assert len(poll(client, bot_id, timeout=30)["events"]) == 2


def test_a_bot_deleted_by_its_portal_still_serves_its_last_delete_event(sandbox, client, tenant, bot_id):
    write_messages(sandbox, tenant, bot_id, 1)

    def delete_in_portal(services):
        platform = services.platform
        activity.delete_bot_from_portal(
            platform, user=platform.users[tenant.user_id], bot=platform.bots[bot_id]
        )

    sandbox.run_in_loop(delete_in_portal)
    user_writes(sandbox, tenant.user_id, bot_id, "too late")  # a bot being deleted hears nothing more
    batch = poll(client, bot_id)
    assert [e["type"] for e in batch["events"]][-1] == "ONIMBOTV2DELETE"
    assert batch["events"][-1]["data"]["bot"]["id"] == bot_id
    poll(client, bot_id, offset=batch["nextOffset"])
    assert error_of(client.get(f"/bots/{bot_id}/events")) == "BOT_NOT_FOUND"


def test_events_of_one_bot_are_not_seen_by_another(sandbox, client, tenant, bot_id):
    other = register_bot(client, "other_bot")
    write_messages(sandbox, tenant, bot_id, 2)
    assert poll(client, other)["events"] == []


def test_a_group_mention_reaches_only_the_mentioned_bot(sandbox, client, tenant, bot_id):
    quiet = register_bot(client, "quiet_bot")

    def group(services):
        platform = services.platform
        user = platform.users[tenant.user_id]
        chat = platform.create_group_chat(
            portal_id=tenant.portal_id, owner_id=user.id, title="Team", member_ids=[]
        )
        for bot in (bot_id, quiet):
            activity.add_bot_to_chat(platform, user=user, chat=chat, bot=platform.bots[bot])
        activity.send_user_message(platform, user=user, chat=chat, text=f"[user={bot_id}]Helper[/user] hi")

    sandbox.run_in_loop(group)
    assert [e["type"] for e in poll(client, bot_id)["events"]] == ["ONIMBOTV2JOINCHAT", "ONIMBOTV2MESSAGEADD"]
    assert [e["type"] for e in poll(client, quiet)["events"]] == ["ONIMBOTV2JOINCHAT"]


def test_a_user_message_through_the_control_api_answers_the_events_it_raised(ctl, client, tenant, bot_id):
    answer = ctl.post(
        "/_sandbox/act/messages", json={"userId": tenant.user_id, "botId": bot_id, "text": "hi"}
    )
    raised = answer.json()["data"]["events"]
    assert [(e["botId"], e["type"]) for e in raised] == [(bot_id, "ONIMBOTV2MESSAGEADD")]
    assert ids(poll(client, bot_id))[-1] == raised[0]["eventId"]


def test_a_raw_event_is_queued_as_given_with_the_id_shown_on_the_wire(ctl, client, bot_id):
    huge = 2**63 + 7
    body = {"botId": bot_id, "type": "ONIMBOTV2MESSAGEADD", "data": {"odd": "\u0000"}, "eventId": huge}
    assert ctl.post("/_sandbox/act/raw-events", json=body).status_code == 200
    ctl.post("/_sandbox/act/raw-events", json={**body, "eventId": None, "data": {"n": 2}})

    batch = poll(client, bot_id)
    assert ids(batch) == [huge, 2] and batch["events"][0]["data"] == {"odd": "\u0000"}
    assert batch["nextOffset"] == 3  # the queue's own order: the mislabelled id does not move the offset
    assert poll(client, bot_id, offset=3)["events"] == []


@pytest.mark.parametrize(
    "body", [{"type": "X", "data": {}, "eventId": -1}, {"type": "X", "data": []}, {"type": "X"}]
)
def test_a_bad_raw_event_is_refused(ctl, bot_id, body):
    assert ctl.post("/_sandbox/act/raw-events", json={"botId": bot_id, **body}).status_code == 400
