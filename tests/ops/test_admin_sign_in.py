"""The admin's sign-in is rate-limited per client address, and an account's wrong passwords are limited
whatever address they come from: an operator's account sees every tenant, so guessing its password must not
be free."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import connection
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def olga():
    return get_user_model().objects.create_user("olga", password=PASSWORD, is_staff=True)


def sign_in(client: Client, password: str) -> int:
    return client.post("/admin/login/", {"username": "olga", "password": password}).status_code


def test_wrong_passwords_beyond_the_rate_are_refused_with_429_even_the_right_one(
    olga, settings, fresh_rate_limits, caplog
):
    settings.OPS_ADMIN_LOGIN_RATE = "3/m"
    guesser = Client()

    # One rate window: unfrozen, the attempts straddled a minute now and then and the fourth was let in.
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):
        answers = [sign_in(guesser, f"guess {n}") for n in range(3)]
        with caplog.at_level("WARNING"):
            refused = guesser.post("/admin/login/", {"username": "olga", "password": PASSWORD})

    assert answers == [200, 200, 200]  # the form again, with its error
    assert refused.status_code == 429 and "_auth_user_id" not in guesser.session
    # One line, the limit's own: Django's "Too Many Requests: /admin/login/" repeated it naming nothing.
    assert [r.name for r in caplog.records] == ["ops.admin_sign_in"]
    page = refused.content.decode()
    assert "Too many sign-in attempts" in page and "wait a minute" in page  # in the admin's own page
    assert refused["Content-Type"].startswith("text/html") and 'href="/admin/login/"' in page
    assert guesser.get("/admin/login/").status_code == 200  # the page itself still shows


def test_the_limit_counts_each_client_address_on_its_own(olga, settings, fresh_rate_limits):
    settings.OPS_ADMIN_LOGIN_RATE = "1/m"
    operator = Client(REMOTE_ADDR="10.0.0.9")
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):  # one rate window
        assert sign_in(Client(), "guess") == 200
        assert sign_in(Client(), "guess") == 429
        assert sign_in(operator, PASSWORD) == 302  # signed in, sent on to the admin
    assert operator.get("/admin/").status_code == 200


def test_a_client_writing_its_own_forwarded_address_is_still_limited(olga, settings, fresh_rate_limits):
    """From an outside probe: with TENANTS_CLIENT_IP_HEADER set, a client connecting directly sent a new
    X-Forwarded-For with each guess and 40 wrong passwords got no 429. Only a trusted proxy's header
    counts."""
    settings.OPS_ADMIN_LOGIN_RATE = "10/m"
    settings.TENANTS_CLIENT_IP_HEADER = "X-Forwarded-For"
    settings.TENANTS_TRUSTED_PROXIES = ["127.0.0.1"]

    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):  # one rate window
        answers = [
            sign_in(Client(REMOTE_ADDR="198.51.100.20", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}"), f"guess {n}")
            for n in range(40)
        ]

    assert answers.count(429) == 30
    through_the_proxy = Client(HTTP_X_FORWARDED_FOR="198.51.100.21")  # another client, via 127.0.0.1
    assert sign_in(through_the_proxy, PASSWORD) == 302


def test_wrong_passwords_for_one_account_from_many_addresses_are_limited_per_account(olga, settings):
    """From the notes of an earlier trial: the limit counted each address alone, so a guesser with many
    addresses guessed an operator's password without end. Wrong passwords count against the account too
    (any name, so a refusal tells nothing of which accounts exist); a right one costs nothing."""
    settings.OPS_ADMIN_LOGIN_RATE = "10/m"
    settings.OPS_ADMIN_LOGIN_ACCOUNT_FAILURES = "5/h"

    def from_address(n: int, password: str, username: str = "olga") -> int:
        guesser = Client(REMOTE_ADDR=f"203.0.113.{n}")
        return guesser.post("/admin/login/", {"username": username, "password": password}).status_code

    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):  # one rate window
        assert from_address(200, PASSWORD) == 302  # a right password is not a failure
        answers = [from_address(n, f"guess {n}") for n in range(8)]
        refused = Client(REMOTE_ADDR="203.0.113.99").post(
            "/admin/login/", {"username": "OLGA ", "password": PASSWORD}
        )
        nobody = [from_address(n, "guess", username="nobody") for n in range(7)]
        other_account = get_user_model().objects.create_user("ivan", password=PASSWORD, is_staff=True)
        ivan = from_address(100, PASSWORD, username=other_account.username)

    assert answers == [200] * 5 + [429] * 3
    assert refused.status_code == 429  # the account's name however written, even with the right password
    page = refused.content.decode()
    assert (
        "Too many failed sign-ins for this account" in page
        and "_auth_user_id" not in refused.wsgi_request.session
    )
    assert nobody == [200] * 5 + [429] * 2  # a name no account has is limited the same
    assert ivan == 302  # another account is not held back


def test_an_account_s_wrong_passwords_are_counted_together_however_its_name_is_spelled(olga, settings):
    """From an outside probe: the sign-in takes a name in Unicode's compatibility form (NFKC: a full-width
    letter, U+FF41 and on, is its plain one) but the account's count took it only case-folded, so each
    spelling (each letter full-width or not: 16 for "olga") had the account's whole limit of guesses."""
    settings.OPS_ADMIN_LOGIN_RATE = "10/m"
    settings.OPS_ADMIN_LOGIN_ACCOUNT_FAILURES = "5/h"
    spellings = [
        "".join(chr(ord(c) + 0xFEE0) if n >> i & 1 else c for i, c in enumerate("olga")) for n in range(8)
    ]

    def from_address(n: int, username: str, password: str) -> int:
        guesser = Client(REMOTE_ADDR=f"203.0.113.{n}")
        return guesser.post("/admin/login/", {"username": username, "password": password}).status_code

    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):  # one rate window
        assert (
            from_address(200, spellings[5], PASSWORD) == 302
        )  # o, l, g and a full-width or not: olga's name
        answers = [from_address(n, spelling, f"guess {n}") for n, spelling in enumerate(spellings)]
        right = from_address(99, spellings[7], PASSWORD)

    assert answers == [200] * 5 + [429] * 3
    assert right == 429


@pytest.mark.django_db(transaction=True)  # the guesses run in threads, each on a connection of its own
def test_wrong_passwords_at_the_same_moment_are_tried_no_more_than_the_account_s_limit(olga, settings):
    """An account's wrong passwords were checked against its limit, then counted once the password had been
    found wrong: guesses sent at the same moment (from as many addresses) all passed the check before the
    first was counted, and each had its password tried."""
    settings.OPS_ADMIN_LOGIN_ACCOUNT_FAILURES = "5/h"
    tried: list[str] = []

    def count_tried(sender, credentials, **kwargs) -> None:
        tried.append(credentials["username"])

    guesses = 12
    together = threading.Barrier(guesses)
    answers: list[int] = []

    def guess(n: int) -> None:
        try:
            together.wait(timeout=10)
            answers.append(sign_in(Client(REMOTE_ADDR=f"203.0.113.{n}"), f"guess {n}"))
        finally:
            connection.close()

    user_login_failed.connect(count_tried)
    try:
        threads = [threading.Thread(target=guess, args=(n,)) for n in range(guesses)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        user_login_failed.disconnect(count_tried)
    # (answers that showed the form again, refusals, passwords tried)
    assert (answers.count(200), answers.count(429), len(tried)) == (5, guesses - 5, 5)


def test_an_account_s_limit_ends_with_its_window(olga, settings):
    settings.OPS_ADMIN_LOGIN_ACCOUNT_FAILURES = "2/h"
    with time_machine.travel(datetime(2030, 3, 4, 8, 0, 5, tzinfo=UTC), tick=False):
        assert [sign_in(Client(REMOTE_ADDR=f"203.0.113.{n}"), "guess") for n in range(3)] == [200, 200, 429]
    with time_machine.travel(datetime(2030, 3, 4, 9, 0, 5, tzinfo=UTC), tick=False):
        assert sign_in(Client(REMOTE_ADDR="203.0.113.50"), PASSWORD) == 302


def test_a_sign_in_while_the_cache_is_down_is_a_503_that_says_so_not_a_500(olga, monkeypatch, caplog):
    """The attempt limits live in the shared cache (Redis): with Redis down every sign-in was a 500 with a
    traceback, so the on-call operator could not get into the admin mid-incident and was not told why (an
    on-call trial). The limits still hold (no attempt goes unchecked): the answer says what is down and what
    still works (sessions signed in, the operator API)."""
    import redis
    from django.core.cache.backends.locmem import LocMemCache

    def refuse(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    for method in ("add", "get", "incr"):  # the counters' cache (fresh_rate_limits: a LocMemCache here)
        monkeypatch.setattr(LocMemCache, method, refuse)
    with caplog.at_level("WARNING"):
        response = Client().post("/admin/login/", {"username": "olga", "password": PASSWORD})
    assert response.status_code == 503
    text = response.content.decode()
    assert "cache" in text and "operator API" in text
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert any("sign-in limits unavailable" in r.getMessage() for r in caplog.records)
    assert "_auth_user_id" not in Client().session  # not signed in unchecked
