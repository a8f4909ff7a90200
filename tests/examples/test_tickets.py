# ruff: noqa: RUF001 (the Russian texts: docs/skills.md §1.4)
"""The tickets skill with the test kit alone: no network (the tracker's call is replaced, or made to a
listener on loopback that the skill must not reach), no database."""

import json

import httpx
import pytest
import vibe_tickets.skill
from vibe_tickets.skill import TicketSkill

from botcore.skills.builtin.echo import EchoSkill
from botcore.skills.options import OptionsError
from botcore.skills.state import MemoryStateStore
from botcore.skills.testing import (
    make_button_command_event,
    make_command_event,
    make_message_event,
    make_scheduled_event,
    route,
    run_deferred,
    run_skill,
)

OPTIONS = {"api_token": "tok-of-the-tracker", "tracker_url": "https://tracker.test/api/issues"}


class Tracker:
    """Stands in for the tracker behind the skill's outside_client (an httpx.MockTransport handler): records
    each call and answers what it was told to."""

    def __init__(self, answer=None, *, down=False):
        self.calls = []
        self.answer = answer if answer is not None else httpx.Response(201, json={"key": "HD-7"})
        self.down = down

    def __call__(self, request):
        self.calls.append(
            {
                "url": str(request.url),
                "headers": {"Authorization": request.headers["Authorization"]},
                "key": request.headers.get("Idempotency-Key"),
                "json": json.loads(request.content),
            }
        )
        if self.down:
            raise httpx.ConnectTimeout("timed out")
        return self.answer


@pytest.fixture
def tracker(monkeypatch):
    tracker = Tracker()
    replaced = lambda *, timeout: httpx.Client(transport=httpx.MockTransport(tracker), timeout=timeout)  # noqa: E731
    monkeypatch.setattr(vibe_tickets.skill, "outside_client", replaced)
    return tracker


def ticket(params="", *, store, **ctx_kwargs):
    event = make_command_event("ticket", params=params)
    return run_skill(TicketSkill(), event, state_store=store, **{"options": OPTIONS, **ctx_kwargs})


def press(params, *, store, **ctx_kwargs):
    event = make_button_command_event("ticket_priority", params=params)
    return run_skill(TicketSkill(), event, state_store=store, **{"options": OPTIONS, **ctx_kwargs})


def test_a_ticket_is_drafted_with_a_button_per_priority_the_suggested_one_highlighted():
    ctx = ticket("printer [b]jammed[/b]", store=MemoryStateStore(), language="ru")
    assert ctx.answers == ["[b]Новая заявка[/b]: printer [\u200bb]jammed[\u200b/b]\nПриоритет?"]
    keyboard = ctx.actions[0].details["keyboard"]
    assert [(b["TEXT"], b["COMMAND_PARAMS"]) for b in keyboard] == [
        ("Низкий", "1 low"),
        ("Обычный", "1 normal"),
        ("Высокий", "1 high"),
    ]
    assert [b.get("BG_COLOR_TOKEN") for b in keyboard] == [None, "primary", None]


def test_a_bare_command_asks_and_only_the_next_private_message_is_taken():
    store, skills = MemoryStateStore(), [TicketSkill(), EchoSkill()]
    assert ticket(store=store).answers == ["What is wrong? Say it in one message."]
    assert route(make_message_event("the printer"), skills, state_store=store).name == "tickets"
    ctx = run_skill(TicketSkill(), make_message_event("the printer"), state_store=store, options=OPTIONS)
    assert ctx.replies == ["[b]New ticket[/b]: the printer\nPriority?"]
    assert route(make_message_event("hello"), skills, state_store=store).name == "echo"


def test_in_a_group_a_bare_command_says_how_since_the_summary_would_not_reach_the_bot():
    event = make_command_event("ticket", chat_id=7)
    ctx = run_skill(TicketSkill(), event, state_store=MemoryStateStore(), options=OPTIONS)
    assert ctx.answers == ["Say what is wrong: /ticket the printer is jammed"]


def test_a_press_files_it_with_the_portals_token_once(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    ctx = press("1 high", store=store)
    assert ctx.answers == ["Filing it, priority High…"]
    [job] = run_deferred(TicketSkill(), ctx)
    assert job.replies == ["Filed: [b]HD-7[/b]"]
    [call] = tracker.calls
    assert call["headers"] == {"Authorization": "Bearer tok-of-the-tracker"}
    assert call["json"] == {"summary": "printer", "priority": "high"}
    assert press("1 high", store=store).answers == ["That ticket is filed or gone already."]


def test_a_tracker_down_is_told_in_the_persons_words_and_a_second_press_tries_again(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    tracker.down = True
    [job] = run_deferred(TicketSkill(), press("1 low", store=store))
    assert job.replies == ["The tracker is not answering; press the button again later."]
    tracker.down = False
    [job] = run_deferred(TicketSkill(), press("1 low", store=store))
    assert job.replies == ["Filed: [b]HD-7[/b]"]


def test_a_job_run_again_after_its_worker_died_sends_the_tracker_the_same_key(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    ctx = press("1 high", store=store)
    run_deferred(TicketSkill(), ctx)
    run_deferred(TicketSkill(), ctx)  # the same run again, as the sweep hands back a run whose worker died
    first, again = tracker.calls
    assert first["key"] and again["key"] == first["key"]
    ticket("scanner", store=store)
    run_deferred(TicketSkill(), press("2 high", store=store))
    assert tracker.calls[2]["key"] not in (None, first["key"])  # another ticket, another key


def test_a_press_again_after_no_answer_keeps_the_key_and_after_a_refusal_takes_a_new_one(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    tracker.down = True  # it may have filed it all the same
    run_deferred(TicketSkill(), press("1 low", store=store))
    tracker.down = False
    tracker.answer = httpx.Response(422, json={"error": "bad"})  # surely not filed
    run_deferred(TicketSkill(), press("1 low", store=store))
    tracker.answer = httpx.Response(201, json={"key": "HD-7"})
    run_deferred(TicketSkill(), press("1 low", store=store))
    down, refused, filed = (call["key"] for call in tracker.calls)
    assert refused == down and filed != refused


def test_a_refusal_says_the_status_and_never_the_token(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    tracker.answer = httpx.Response(401, json={"error": "bad token tok-of-the-tracker"})
    [job] = run_deferred(TicketSkill(), press("1 low", store=store))
    assert job.replies == ["The tracker refused the ticket (401): ask the portal's admin to check its token."]


def test_without_a_token_a_press_says_so_and_keeps_the_draft(tracker):
    store = MemoryStateStore()
    ticket("printer", store=store)
    assert press("1 low", store=store, options={}).answers == [
        "The tracker's token is not set: ask the portal's admin."
    ]
    assert press("1 low", store=store).answers == ["Filing it, priority Low…"]
    assert tracker.calls == []  # the job has not run yet: nothing was sent without a token


def test_the_daily_count_goes_to_the_chat_chosen_and_without_one_there_is_no_schedule(tracker):
    store = MemoryStateStore()
    for number, summary in enumerate(("printer", "kettle"), start=1):
        ticket(summary, store=store)
        run_deferred(TicketSkill(), press(f"{number} low", store=store))
    assert TicketSkill().schedules_for({**OPTIONS, "digest_chat": "", "digest_at": "17:00"}) == []
    today = next(iter(store.load("totals")[0]))
    event = make_scheduled_event("digest", local_due_at=f"{today}T17:00:00+00:00")
    ctx = run_skill(TicketSkill(), event, state_store=store, options={**OPTIONS, "digest_chat": "chat5"})
    assert [post.text for post in ctx.posts_to("chat5")] == ["Tickets filed today: 2"]


def test_a_tracker_address_that_is_none_is_refused_in_the_admins_words():
    with pytest.raises(OptionsError) as refused:
        run_skill(TicketSkill(), make_command_event("ticket"), options={"tracker_url": "tracker.test"})
    assert refused.value.errors == {"tracker_url": "must be an http(s):// address"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/api/issues",
        "http://localhost:6379/",
        "http://10.0.0.5/api",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::1]:5432/",
    ],
)
def test_a_tracker_address_on_the_vendors_own_network_is_refused_when_saved(url):
    with pytest.raises(OptionsError) as refused:
        TicketSkill.options_schema.validate({"tracker_url": url})
    assert refused.value.errors == {
        "tracker_url": "must be an address on the internet, not on a private network or this host"
    }


def test_a_tracker_name_that_leads_to_this_host_gets_nothing_and_the_person_is_told(listener, resolver):
    # A name passes when the admin saves it (nothing is resolved then); at the call it leads to loopback,
    # where a service of the vendor's listens. Nothing reaches it, and no status of it is told.
    resolver["tracker.test"] = ["127.0.0.1"]
    options = {**OPTIONS, "tracker_url": f"http://tracker.test:{listener.port}/api/issues"}
    store = MemoryStateStore()
    ticket("printer", store=store, options=options)
    [job] = run_deferred(TicketSkill(), press("1 low", store=store, options=options))
    assert listener.requests == []
    assert job.replies == [
        "The tracker's address leads to a private network, which the bot may not call: ask the portal's admin"
        " to check it."
    ]
    # The draft is back: a press after the admin's fix files it.
    assert press("1 low", store=store, options=options).answers == ["Filing it, priority Low…"]
