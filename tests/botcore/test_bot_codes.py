"""A portal where our bot's code is held by a bot outside our key (CONTRACT B §7.1, dialect portal-bot-codes).

The platform may keep bot codes per portal across keys: another vendor's app on the portal registering our
code first answers our registration 409 BOT_ALREADY_EXISTS without data.botId, and no adopting can fix it.
The portal's bot is then registered under a derived code (`vibe_bot_2`, `_3`, …, botcore/services/
bot_codes.py), exactly one bot of ours, which answers as any other. Counted on the platform, not by our rows.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.core import checks

from botcore import conf
from botcore.checks import check_bot_code
from botcore.errors import BotCodesTakenError
from botcore.models import Bot
from botcore.services import bots as bot_services
from botcore.services.bot_codes import MAX_CODES, candidate_codes
from botcore.services.bots import provision_bot
from botcore.services.polling import poll_bot_once
from botcore.services.provisioning import provision_portal
from ops.serializers import BotSerializer
from tenants import selectors as tenant_selectors
from tenants import services as tenant_services
from tests.botcore.test_reliability import bot as bot  # the fixture, shared
from tests.botcore.test_reliability import counting as counting  # the fixture, shared
from tests.botcore.test_reliability import no_repeats, personal_key
from tests.botcore.vibe.test_retries import seed_first_fail_then_pass

pytestmark = pytest.mark.django_db(transaction=True)


def ours(sandbox_portal, *, besides: set[int]) -> list[tuple[int, str]]:
    """Our bots on the platform, (id, code): every bot on the portal but the other app's."""
    return [(b["id"], b["code"]) for b in sandbox_portal.portal_bots() if b["id"] not in besides]


@pytest.mark.slow
@pytest.mark.parametrize("dialect", [None, "portal-bot-codes"])
def test_a_portal_where_another_app_holds_our_code_gets_one_bot_that_answers(
    sandbox_portal, counting, dialect
):
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak(*filter(None, [dialect]))
    foreign = sp.another_app_registers(base)
    bot = provision_bot(sp.portal)
    code = f"{base}_2" if dialect else base  # per key (the default reading) our code is still ours
    assert bot.status == Bot.Status.ACTIVE and ours(sp, besides={foreign}) == [(bot.vibe_bot_id, code)]
    assert bot.code == base and bot.platform_code == ("" if code == base else code)
    assert BotSerializer(bot).data["platform_code"] == bot.platform_code  # the operator API shows it

    again = provision_bot(sp.portal)  # a re-provision changes nothing on the platform
    assert again.vibe_bot_id == bot.vibe_bot_id and ours(sp, besides={foreign}) == [(bot.vibe_bot_id, code)]
    sp.say(user_id=sp.member_id, bot_id=bot.vibe_bot_id, text="hello")
    assert poll_bot_once(bot.pk).handled == 1
    assert Counter(m["text"] for m in sp.bot_messages(bot.vibe_bot_id)) == Counter(["got: hello"])
    assert sp.bot_messages(foreign) == [] and no_repeats(counting.executions)


@pytest.mark.slow
def test_a_lost_answer_to_the_derived_code_s_registration_makes_no_second_bot(sandbox, sandbox_portal):
    """The platform registers `vibe_bot_2` and its answer is lost (a 502 after it acted): the retry meets a
    409 naming our own bot and adopts it."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    foreign = sp.another_app_registers(base)
    since = max(c["seq"] for c in sp.control.get("/_sandbox/calls").json()["data"]["calls"])
    seed_first_fail_then_pass(sandbox)
    rule = {"method": "POST", "path": "/v1/bots", "afterAction": True, "errorRate": 0.5}
    sp.control.post("/_sandbox/faults", json={**rule, "errorCode": "BITRIX_UNAVAILABLE"})
    bot = provision_bot(sp.portal)
    sp.control.delete("/_sandbox/faults")
    assert ours(sp, besides={foreign}) == [(bot.vibe_bot_id, f"{base}_2")]
    calls = sp.control.get("/_sandbox/calls", params={"since": since}).json()["data"]["calls"]
    posts = [c for c in calls if c["path"] == "/v1/bots"]
    assert [(c["status"], c["errorCode"]) for c in posts if c["method"] == "POST"] == [
        (409, "BOT_ALREADY_EXISTS"),  # vibe_bot: the other app's
        (502, "BITRIX_UNAVAILABLE"),  # vibe_bot_2 registered, the answer lost
        (409, "BOT_ALREADY_EXISTS"),  # the retry: names our bot, adopted
    ]


@pytest.mark.slow
def test_a_provisioning_that_failed_after_registering_the_derived_code_adopts_its_bot_when_run_again(
    sandbox_portal,
):
    """The platform registered `vibe_bot_2`, then the run failed before the row kept it (its answer lost and
    the platform failing on): the sweep's next run tries the same codes in the same order and adopts it."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    foreign = sp.another_app_registers(base)
    lost = {"afterAction": True, "errorRate": 1.0, "errorCode": "BITRIX_UNAVAILABLE"}
    sp.control.post("/_sandbox/faults", json={"method": "POST", "path": "/v1/bots", **lost})
    sp.control.post("/_sandbox/faults", json={"method": "GET", "path": "/v1/bots/{bot_id}", **lost})
    assert provision_portal(sp.portal) == "backoff"
    bot = Bot.objects.get(portal=sp.portal)
    assert bot.status == Bot.Status.PENDING and bot.vibe_bot_id is None
    [(made, code)] = ours(sp, besides={foreign})
    assert code == f"{base}_2"

    sp.control.delete("/_sandbox/faults")
    Bot.objects.filter(pk=bot.pk).update(backoff_until=None)
    assert provision_portal(sp.portal) == "provisioned"
    bot.refresh_from_db()
    assert bot.vibe_bot_id == made and ours(sp, besides={foreign}) == [(made, code)]


@pytest.mark.slow
def test_a_portal_where_every_code_we_may_take_is_held_breaks_its_bot_with_a_reason(sandbox_portal):
    sp = sandbox_portal
    sp.speak("portal-bot-codes")
    held = {sp.another_app_registers(code) for code in candidate_codes(conf.bot_code())}
    with pytest.raises(BotCodesTakenError):
        provision_portal(sp.portal)
    bot = Bot.objects.get(portal=sp.portal)
    assert bot.status == Bot.Status.BROKEN and ours(sp, besides=held) == []
    assert f"{conf.bot_code()}_{MAX_CODES}" in bot.broken_reason and "another app" in bot.broken_reason


def test_the_derived_codes_are_few_fixed_in_order_and_fit_the_platform_s_64_characters():
    assert candidate_codes("helper_bot") == ["helper_bot"] + [
        f"helper_bot_{n}" for n in range(2, MAX_CODES + 1)
    ]
    assert candidate_codes("helper_bot", current="helper_bot_3")[:2] == ["helper_bot_3", "helper_bot"]
    assert len(candidate_codes("helper_bot", current="helper_bot_3")) == MAX_CODES
    assert candidate_codes("helper_bot", current="other") == candidate_codes("helper_bot")
    long = "b" * 64
    assert (
        all(len(code) <= 64 for code in candidate_codes(long))
        and len(set(candidate_codes(long))) == MAX_CODES
    )


def _registrations(sandbox_portal) -> int:
    calls = sandbox_portal.control.get("/_sandbox/calls", params={"path": "/v1/bots"}).json()["data"]["calls"]
    return sum(1 for c in calls if c["method"] == "POST")


@pytest.mark.slow
def test_a_move_that_finds_every_code_held_once_the_bot_s_sessions_ended_breaks_it_once(
    sandbox_portal, bot, task_queue
):
    """The bot works under a portal user's session; an admin gives a personal key, and its move cannot take
    a code (another app on the portal holds every derived one). The bot keeps answering under the session,
    and the failure is on its row. Once the session ends, each cycle found the credential gone and queued the
    move again, which failed again: ten POST /v1/bots and an ERROR with its traceback, about every second,
    for good (a live stack: 66 moves and ~390 registrations a minute). It is broken once, with the reason."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    held = {sp.another_app_registers(code) for code in candidate_codes(base)[1:]}  # ours holds `base`
    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    task_queue.run("botcore.tasks.move_portal_bot", allow_failures=True)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.credential_kind == "session"  # still answers
    assert "BotCodesTakenError" in bot.last_error  # and says why it stays on the session
    assert poll_bot_once(bot.pk).status == "polled"
    bot.refresh_from_db()
    assert bot.status_note.startswith("Not moved to the portal's personal key: BotCodesTakenError")

    sp.control.post("/_sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})  # the session ends
    for _ in range(3):
        poll_bot_once(bot.pk)
        task_queue.run("botcore.tasks.move_portal_bot", allow_failures=True)
    registrations = _registrations(sp)
    for _ in range(3):
        poll_bot_once(bot.pk)
        task_queue.run("botcore.tasks.move_portal_bot", allow_failures=True)
    bot.refresh_from_db()
    assert _registrations(sp) == registrations  # no move tried again by each cycle
    assert bot.status == Bot.Status.BROKEN and f"{base}_{MAX_CODES}" in bot.broken_reason
    assert ours(sp, besides=held) == [(bot.vibe_bot_id, base)]


@pytest.mark.slow
def test_cycles_of_a_bot_whose_credential_is_gone_queue_one_move_not_one_each(
    sandbox_portal, bot, task_queue
):
    """The bot's sessions ended and the portal has a personal key: each cycle finds the credential gone and
    the move to the key is queued. The poller asks a bot with no credential for a cycle at once, so a move
    that could not run at once (the portal's turn held, the platform failing) was queued again by each,
    about every 0.6 s: 24 workers each waiting 30 s for the turn in a live stack, every portal's cycles
    behind them. One is queued until it has run."""
    sp = sandbox_portal
    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    task_queue.purge()  # the save's own move, as if it had failed
    sp.control.post("/_sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})
    for _ in range(4):
        poll_bot_once(bot.pk)
    assert task_queue.names().count("botcore.tasks.move_portal_bot") == 1
    task_queue.run("botcore.tasks.move_portal_bot")
    bot.refresh_from_db()
    assert bot.credential_kind == "personal" and bot.status == Bot.Status.ACTIVE


@pytest.mark.parametrize(
    "code, said",
    [
        pytest.param("", "is empty", id="empty"),
        pytest.param("  ", "is empty", id="blank"),
        pytest.param("b" * 65, "65 characters", id="too-long"),
    ],
)
def test_a_bot_code_no_bot_can_have_stops_every_command_at_start(settings, code, said):
    """Set to a code the platform requires (CODE_REQUIRED) or the row cannot hold, every portal's provisioning
    failed for good, one broken bot at a time."""
    settings.BOTCORE_BOT_CODE = code
    errors = [m for m in checks.run_checks(tags=[checks.Tags.compatibility]) if m.id == "botcore.E014"]
    assert len(errors) == 1 and said in errors[0].msg and errors[0].obj == "settings.BOTCORE_BOT_CODE"


@pytest.mark.parametrize(
    "code, said",
    [
        pytest.param("vibe bot", "' '", id="space"),
        pytest.param("вайб_бот", "'в'", id="cyrillic"),
        pytest.param("vibe/bot", "'/'", id="slash"),
        pytest.param("b" * 62, "62 characters", id="derived-code-too-long"),
    ],
)
def test_a_bot_code_the_platform_might_refuse_is_a_warning(settings, code, said):
    """The reference gives no rule beyond CODE_REQUIRED: a code of other characters, or with no room for its
    `_10` (cut to fit, `vibe…_2` no longer named its code), is said at start, and a release that runs with
    one the platform takes is not stopped."""
    settings.BOTCORE_BOT_CODE = code
    said_at_start = [m for m in check_bot_code() if m.obj == "settings.BOTCORE_BOT_CODE"]
    assert [m.id for m in said_at_start] == ["botcore.W014"] and said in said_at_start[0].msg


@pytest.mark.parametrize("code", ["vibe_bot", "Helper-Bot.v2", "b" * 61])
def test_a_bot_code_whose_every_derived_code_fits_passes(settings, code):
    settings.BOTCORE_BOT_CODE = code
    assert check_bot_code() == []
    assert all(len(c) <= 64 and c.startswith(code) for c in candidate_codes(code))


@pytest.mark.slow
def test_a_move_refused_for_good_reads_the_portal_s_credentials_once(
    sandbox_portal, bot, task_queue, monkeypatch
):
    """A move to a personal key finds every code held: which credential it was to move to, and whether the
    bot's own still stands (broken or still answering), come from one read each. The preferred credential
    was read three times (the move's check, its registration, the failure's note): two answers to one
    question, which could differ if the portal's credentials changed between them."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    for code in candidate_codes(base)[1:]:  # ours holds `base`
        sp.another_app_registers(code)
    tenant_services.set_portal_api_key(sp.portal, api_key=personal_key(sp), added_by_user_id=sp.admin_id)
    reads = Counter()

    def counted(read):
        def find_preferred_credential_kind(portal):
            reads["preferred"] += 1
            return read(portal)

        return find_preferred_credential_kind

    for module in (bot_services, tenant_selectors):
        kind_reader = counted(module.find_preferred_credential_kind)
        monkeypatch.setattr(module, "find_preferred_credential_kind", kind_reader)
    task_queue.run("botcore.tasks.move_portal_bot", allow_failures=True)
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.credential_kind == "session"
    assert bot.status_note.startswith("Not moved to the portal's personal key: BotCodesTakenError")
    assert reads["preferred"] == 1  # was 3: the move's check, its registration, its failure's note


@pytest.mark.slow
def test_a_freed_code_is_taken_back_when_the_bot_is_registered_anew_never_under_a_working_bot(
    sandbox_portal, task_queue
):
    """Another app held our code, so the bot is `vibe_bot_2`; that app's bot is deleted. A working bot is
    not moved for a code nobody sees (a new platform bot is in none of the old one's chats): a re-provision
    keeps it. Once the bot is registered anew all the same (here the portal installs the app again), it
    takes its own code back; it kept the derived one, tried first, for good."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    foreign = sp.another_app_registers(base)
    bot = provision_bot(sp.portal)
    assert bot.platform_code == f"{base}_2"
    sp.another_app_deletes(foreign)  # the code is free

    again = provision_bot(sp.portal)
    assert (again.vibe_bot_id, again.platform_code) == (bot.vibe_bot_id, f"{base}_2")
    assert ours(sp, besides=set()) == [(bot.vibe_bot_id, f"{base}_2")]

    tenant_services.uninstall_portal(sp.portal, reason="admin")
    task_queue.purge()
    sp.open_app()  # the admin installs the app again
    task_queue.run("botcore.tasks.provision_portal_bot")
    bot.refresh_from_db()
    assert bot.status == Bot.Status.ACTIVE and bot.platform_code == "", bot.last_error
    assert ours(sp, besides=set()) == [(bot.vibe_bot_id, base)]


@pytest.mark.slow
def test_a_broken_bot_re_provisioned_once_its_code_is_freed_takes_it_back(sandbox_portal):
    """Broken, the bot is registered anew by the operator's re-provision (the platform refused the one it
    had): its own code first, the bot on the derived one drained and unregistered by the move."""
    sp, base = sandbox_portal, conf.bot_code()
    sp.speak("portal-bot-codes")
    foreign = sp.another_app_registers(base)
    bot = provision_bot(sp.portal)
    sp.another_app_deletes(foreign)
    Bot.objects.filter(pk=bot.pk).update(status=Bot.Status.BROKEN, broken_reason="BOT_ACCESS_DENIED: …")
    again = provision_bot(sp.portal)
    assert again.status == Bot.Status.ACTIVE and again.platform_code == ""
    assert ours(sp, besides=set()) == [(again.vibe_bot_id, base)]  # the one on `_2` unregistered
