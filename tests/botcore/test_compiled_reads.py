"""The cycle's compiled-once reads (botcore.compiled_reads): each gives the instances its queryset gives, on
the backend the suite runs on (SQLite, or PostgreSQL in CI): the same values after the backend's and the
fields' conversions, the same related instances cached, the same fields deferred."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from botcore.compiled_reads import CompiledRead
from botcore.models import Bot, EventLogEntry, SkillConfig
from botcore.selectors import _configs, list_pending_entries, read_pending_entries
from botcore.services.eventlog import _lock_bot
from botcore.services.polling import read_cycle_bot
from tenants.models import Portal, PortalSettings

pytestmark = pytest.mark.django_db


def state(instance: Model | None, seen: tuple[Model, ...] = ()) -> dict | str | None:
    """What an instance holds: its values, where it was read from, and which related instances it caches
    (one cached back, a portal's settings' portal, as "seen")."""
    if instance is None:
        return None
    if any(instance is earlier for earlier in seen):
        return "seen"
    values = {name: value for name, value in vars(instance).items() if name != "_state"}
    cached = instance._state.fields_cache
    return {
        "values": values,
        "db": instance._state.db,
        "adding": instance._state.adding,
        "deferred": instance.get_deferred_fields(),
        "cached": {name: state(related, (*seen, instance)) for name, related in cached.items()},
    }


@pytest.fixture
def portal() -> Portal:
    return Portal.objects.create(member_id="m1", vibe_portal_id="p1", domain="acme.bitrix24.com", name="Ünï")


@pytest.fixture
def bot(portal) -> Bot:
    return Bot.objects.create(
        portal=portal, code="b", name="B", vibe_bot_id=7, status=Bot.Status.ACTIVE, lease_token="a" * 32,
        lease_until=datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC), consecutive_failures=2,
        last_error="boom: ünïcode", event_offset=2**40,
    )  # fmt: skip


@pytest.mark.parametrize("with_settings", [True, False], ids=["settings", "no-settings"])
def test_the_cycles_bot_is_read_with_its_portal_and_settings_as_select_related_reads_it(bot, with_settings):
    if with_settings:
        PortalSettings.objects.create(
            portal=bot.portal, language="ru", timezone="Europe/Moscow", bot_name="Б"
        )

    read = read_cycle_bot(bot.pk)

    expected = Bot.objects.select_related("portal__settings").get(pk=bot.pk)
    assert state(read) == state(expected)
    assert Portal.settings.is_cached(read.portal)
    assert (getattr(read.portal, "settings", None) is not None) is with_settings


def test_a_bot_that_is_gone_is_the_models_does_not_exist(bot):
    with pytest.raises(Bot.DoesNotExist):
        read_cycle_bot(bot.pk + 1000)


def test_the_pending_entries_are_read_as_the_queryset_reads_them_in_its_order(bot, portal):
    other = Bot.objects.create(portal=portal, code="o", name="O", vibe_bot_id=8)
    now, payload = timezone.now(), {"type": "MESSAGE_ADD", "text": "ünïcode \u2028", "n": [1, None, 2.5]}
    for number, status in enumerate([*EventLogEntry.Status.values, EventLogEntry.Status.RECEIVED]):
        for owner in (bot, other):
            EventLogEntry.objects.create(
                bot=owner, vibe_bot_id=owner.vibe_bot_id, vibe_event_id=100 - number, status=status,
                event_type="MESSAGE_ADD", payload=payload,
                attempts=number, next_attempt_at=now + timedelta(seconds=number), occurred_at=now,
            )  # fmt: skip

    read = read_pending_entries(bot)

    expected = list(list_pending_entries(bot))
    assert len(read) == 2 and [state(entry) for entry in read] == [state(entry) for entry in expected]
    assert read_pending_entries(Bot.objects.create(portal=portal, code="n", name="N")) == []


def test_the_bot_storing_a_batch_locks_is_read_with_the_same_deferred_fields(bot):
    with transaction.atomic():
        read = _lock_bot(bot.pk)
        expected = Bot.objects.only("id", "vibe_bot_id", "event_offset", "lease_token").get(pk=bot.pk)

    assert state(read) == state(expected)
    assert "status" in read.get_deferred_fields()


def test_a_portals_skill_configs_are_read_as_the_queryset_reads_them(portal):
    other = Portal.objects.create(member_id="m2", vibe_portal_id="p2", domain="beta.bitrix24.com")
    SkillConfig.objects.create(portal=portal, skill_name="echo", is_enabled=False, options={"t": "ü", "n": 1})
    SkillConfig.objects.create(portal=portal, skill_name="standup", options={})
    SkillConfig.objects.create(portal=other, skill_name="echo")

    read = _configs(portal.pk)

    expected = {config.skill_name: config for config in SkillConfig.objects.filter(portal=portal)}
    assert {name: state(config) for name, config in read.items()} == {
        name: state(config) for name, config in expected.items()
    }


def test_a_compiled_read_takes_each_id_where_the_queryset_put_it(bot, portal):
    other = Bot.objects.create(portal=portal, code="o", name="O", vibe_bot_id=7)
    read = CompiledRead(lambda portal_id, bot_id: Bot.objects.filter(portal_id=portal_id, pk__gte=bot_id))

    assert [b.pk for b in read.all(portal_id=portal.pk, bot_id=other.pk)] == [other.pk]
    assert [b.pk for b in read.all(portal_id=portal.pk, bot_id=bot.pk)] == [bot.pk, other.pk]
    assert read.all(portal_id=portal.pk + 1, bot_id=bot.pk) == []


def test_a_compiled_read_finds_its_columns_conversions_once_not_at_each_call(bot, monkeypatch):
    """The conversions of each column (the backend's and the fields') depend only on the columns and the
    connection: looked up anew at every call, they were a third of the cycle's bot read."""
    from django.db.models.sql.compiler import SQLCompiler

    PortalSettings.objects.create(portal=bot.portal, language="ru", timezone="Europe/Moscow", bot_name="Б")
    first = read_cycle_bot(bot.pk)  # compiled, if no test before compiled it on this connection
    looked_up: list[int] = []
    real = SQLCompiler.get_converters

    def get_converters(self, expressions):
        looked_up.append(len(expressions))
        return real(self, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", get_converters)

    again = [read_cycle_bot(bot.pk) for _ in range(3)]

    assert looked_up == []
    assert all(state(read) == state(first) for read in again)
    assert again[0].lease_until == datetime(2026, 12, 4, 17, 0, 0, 123456, tzinfo=UTC)  # converted, as before
