"""The pacer: leases due bots by priority, never twice at once, within each key's poll budget."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from botcore.models import Bot, Credential
from botcore.pacer import Pacer
from botcore.poller_fleet import read_bots
from botcore.services.platform import app_key_digest
from botcore.vibe import budget_for_key, learning
from tenants.models import Portal, PortalApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def make_bots(count: int, **fields) -> list[Bot]:
    portal = Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com")
    return [
        Bot.objects.create(
            portal=portal,
            code=f"b{i}",
            name="B",
            vibe_bot_id=100 + i,
            status=Bot.Status.ACTIVE,
            next_poll_at=timezone.now() - timedelta(seconds=1),
            **fields,
        )
        for i in range(count)
    ]


def test_a_due_bot_is_leased_once_until_its_lease_runs_out(settings):
    settings.VIBE_BUDGET_PER_SECOND = 0  # no budget: this test is about leases
    (bot,) = make_bots(1)
    first, second = Pacer(), Pacer()
    assert first.tick() == 1
    assert second.tick() == 0  # leased by the first pacer
    bot.refresh_from_db()
    Bot.objects.filter(pk=bot.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert second.tick() == 1  # the cycle died: the lease ran out and the bot is due again


def test_bots_with_a_backlog_or_recent_events_go_first_when_the_budget_is_short(settings):
    settings.VIBE_BUDGET_PER_SECOND = 5
    settings.BOTCORE_POLL_BUDGET_SHARE = 0.4  # two polls right now
    settings.VIBE_BUDGET_BACKEND = "local"
    bots = make_bots(6)
    Bot.objects.filter(pk=bots[4].pk).update(has_more=True)
    Bot.objects.filter(pk=bots[5].pk).update(last_event_at=timezone.now())
    pacer = Pacer()
    enqueued = pacer.tick()
    leased = set(Bot.objects.exclude(lease_token="").values_list("pk", flat=True))
    assert enqueued == len(leased) >= 1
    assert bots[4].pk in leased
    assert leased <= {bots[4].pk, bots[5].pk}


def test_paused_broken_and_waiting_bots_are_not_polled(settings):
    settings.VIBE_BUDGET_PER_SECOND = 0
    bots = make_bots(3)
    for bot, status in zip(
        bots, (Bot.Status.PAUSED, Bot.Status.BROKEN, Bot.Status.WAITING_SESSION), strict=True
    ):
        Bot.objects.filter(pk=bot.pk).update(status=status)
    assert Pacer().tick() == 0


def test_enqueued_cycles_carry_the_bot_and_its_lease(settings):
    """Read back from whichever broker is configured (the ORM's table, or Redis)."""
    settings.VIBE_BUDGET_PER_SECOND = 0
    broker = get_broker()
    broker.purge_queue()  # Redis keeps what earlier tests enqueued; the ORM table was rolled back anyway
    (bot,) = make_bots(1)
    Pacer().tick()
    bot.refresh_from_db()
    queued = broker.dequeue()
    assert queued and len(queued) == 1
    task = SignedPackage.loads(queued[0][1])
    assert task["func"] == "botcore.tasks.poll_bot"
    assert tuple(task["args"]) == (bot.pk, bot.lease_token)


def test_the_pacer_keeps_no_more_cycles_in_flight_than_the_workers_can_take(settings):
    settings.VIBE_BUDGET_PER_SECOND = 0
    settings.BOTCORE_MAX_CYCLES_IN_FLIGHT = 3
    bots = make_bots(5)
    Bot.objects.filter(pk=bots[4].pk).update(has_more=True)
    pacer = Pacer()
    assert pacer.tick() == 3
    assert bots[4].pk in set(Bot.objects.exclude(lease_token="").values_list("pk", flat=True))
    assert pacer.tick() == 0 and pacer.saturated
    Bot.objects.filter(pk=bots[4].pk).update(lease_token="", lease_until=None)  # its cycle finished
    assert pacer.tick() == 1


def test_spare_budget_polls_a_quiet_bot_early_but_never_within_the_fast_bound(settings):
    settings.VIBE_BUDGET_PER_SECOND = 50
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_POLL_FAST_SECONDS = 1.0
    settings.BOTCORE_EARLY_POLL_FLOOR_SECONDS = 3.0
    (bot,) = make_bots(1)
    Bot.objects.filter(pk=bot.pk).update(
        next_poll_at=timezone.now() + timedelta(seconds=15),
        last_polled_at=timezone.now() - timedelta(seconds=5),
    )
    assert Pacer().tick() == 1  # not due for 15 s, but the key has budget to spare
    Bot.objects.filter(pk=bot.pk).update(lease_token="", lease_until=None, last_polled_at=timezone.now())
    assert Pacer().tick() == 0  # polled a moment ago: not again within the floor


def test_without_a_budget_only_due_bots_are_polled(settings):
    settings.VIBE_BUDGET_PER_SECOND = 0
    (bot,) = make_bots(1)
    Bot.objects.filter(pk=bot.pk).update(next_poll_at=timezone.now() + timedelta(seconds=15))
    assert Pacer().tick() == 0


def test_an_early_poll_never_goes_to_a_bot_that_is_backing_off(settings):
    settings.VIBE_BUDGET_PER_SECOND = 50
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_EARLY_POLL_FLOOR_SECONDS = 2
    (bot,) = make_bots(1)
    now = timezone.now()
    Bot.objects.filter(pk=bot.pk).update(
        next_poll_at=now + timedelta(seconds=60), backoff_until=now + timedelta(seconds=60),
        last_polled_at=now - timedelta(seconds=30), consecutive_failures=4,
    )  # fmt: skip
    assert Pacer().tick() == 0  # the platform is failing this bot: spare budget does not hurry it
    Bot.objects.filter(pk=bot.pk).update(backoff_until=now - timedelta(seconds=1))
    assert Pacer().tick() == 1


def test_an_idle_bot_is_polled_early_no_more_often_than_the_floor(settings):
    settings.VIBE_BUDGET_PER_SECOND = 50
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_POLL_FAST_SECONDS = 1.0
    settings.BOTCORE_EARLY_POLL_FLOOR_SECONDS = 20
    (bot,) = make_bots(1)
    now = timezone.now()
    Bot.objects.filter(pk=bot.pk).update(
        next_poll_at=now + timedelta(seconds=60), last_polled_at=now - timedelta(seconds=10)
    )
    assert Pacer().tick() == 0  # polled 10 s ago: past the fast bound, within the floor
    Bot.objects.filter(pk=bot.pk).update(last_polled_at=now - timedelta(seconds=21))
    assert Pacer().tick() == 1


def test_a_short_budget_never_starves_a_quiet_bot(settings):
    settings.VIBE_BUDGET_PER_SECOND = 5
    settings.BOTCORE_POLL_BUDGET_SHARE = 0.2  # one poll right now
    settings.VIBE_BUDGET_BACKEND = "local"
    settings.BOTCORE_POLL_SLOW_SECONDS = 15
    busy, quiet = make_bots(2)
    now = timezone.now()
    # The busy bot had events a moment ago; the quiet one has waited past the slow bound.
    Bot.objects.filter(pk=busy.pk).update(last_event_at=now, next_poll_at=now - timedelta(seconds=1))
    Bot.objects.filter(pk=quiet.pk).update(
        last_event_at=now - timedelta(hours=1), next_poll_at=now - timedelta(seconds=40)
    )
    assert Pacer().tick() == 1
    assert Bot.objects.get(pk=quiet.pk).lease_token != ""  # the longest overdue goes first


def test_a_personal_keys_polls_share_the_rate_learned_for_that_key(settings):
    """The transport learns a personal key's rate under the key itself; the pacer reads it there."""
    settings.VIBE_BUDGET_PER_SECOND = 9
    settings.VIBE_BUDGET_BACKEND = "local"
    (bot,) = make_bots(1)
    personal_key = "vibe_api_" + uuid.uuid4().hex
    PortalApiKey.objects.create(
        portal=bot.portal, key=personal_key, key_hint="vibe_api_…", added_by_user_id=1
    )
    Bot.objects.filter(pk=bot.pk).update(credential_kind=Credential.PERSONAL)  # registered with the key
    learned = budget_for_key(personal_key)  # what a poll cycle's client spends
    learned.acquire()
    learned.record(limited=True)  # the platform refused it once: 7.2/s learned
    pacer = Pacer()
    assert pacer.tick() == 1
    (poll_budget,) = pacer._budgets.values()
    expected = learning.BACKOFF * 9 * settings.BOTCORE_POLL_BUDGET_SHARE
    assert poll_budget.budget.per_second == pytest.approx(expected)  # type: ignore[union-attr]


def test_a_bot_still_on_the_app_key_polls_on_the_app_keys_budget(settings):
    """A portal gave a personal key, but its bot is registered with the app key (not moved yet, or the move
    failed): its polls go out with the app key, so they spend the app key's budget, not the personal one's."""
    settings.VIBE_BUDGET_PER_SECOND = 9
    settings.VIBE_BUDGET_BACKEND = "local"
    (bot,) = make_bots(1)
    PortalApiKey.objects.create(
        portal=bot.portal, key="vibe_api_" + uuid.uuid4().hex, key_hint="vibe_api_…", added_by_user_id=1
    )
    assert Bot.objects.get(pk=bot.pk).credential_kind == Credential.SESSION
    pacer = Pacer()
    assert pacer.tick() == 1
    assert list(pacer._budgets) == [settings.VIBE_APP_KEY]


def test_a_bot_of_the_previous_app_key_polls_on_that_keys_budget(settings):
    """During an app key's rotation a bot registered under the previous key is polled with it
    (VIBE_APP_KEY_PREVIOUS), so the pacer and the poller spend that key's budget for it, not the new key's."""
    settings.VIBE_BUDGET_PER_SECOND = 9
    settings.VIBE_BUDGET_BACKEND = "local"
    previous, current = "vibe_app_" + "p" * 40, "vibe_app_" + "c" * 40
    settings.VIBE_APP_KEY, settings.VIBE_APP_KEY_PREVIOUS = current, previous
    old, new = make_bots(2)
    Bot.objects.filter(pk=old.pk).update(app_key_digest=app_key_digest(previous))
    Bot.objects.filter(pk=new.pk).update(app_key_digest=app_key_digest(current))
    rows = read_bots([old.pk, new.pk])
    assert (rows[old.pk].key_name, rows[new.pk].key_name) == (previous, current)
    pacer = Pacer()
    assert pacer.tick() == 2
    assert sorted(pacer._budgets) == sorted([previous, current])
