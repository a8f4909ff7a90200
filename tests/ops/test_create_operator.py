"""`manage.py create_operator`: asks for a password before it writes anything, refuses a weak one, and
repairs an account left without a password."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db

GOOD = "correct horse battery staple 42"


def answers(monkeypatch, *typed: str | type[BaseException]) -> None:
    """What the operator types at each password prompt (an exception class: the prompt raises it)."""
    replies = iter(typed)

    def getpass(prompt: str = "") -> str:
        reply = next(replies)
        if isinstance(reply, type):
            raise reply()
        return reply

    monkeypatch.setattr("ops.management.commands.create_operator.getpass.getpass", getpass)


def test_without_a_terminal_it_says_how_and_creates_no_account(monkeypatch):
    answers(monkeypatch, EOFError)

    with pytest.raises(CommandError, match="--no-password"):
        call_command("create_operator", "newbie")

    assert not get_user_model().objects.filter(username="newbie").exists()


def test_a_weak_password_is_refused_with_the_reasons_and_creates_no_account(monkeypatch):
    answers(monkeypatch, "a", "a")

    with pytest.raises(CommandError, match="too short"):
        call_command("create_operator", "weak")

    assert not get_user_model().objects.filter(username="weak").exists()


def test_passwords_that_differ_are_refused(monkeypatch):
    answers(monkeypatch, GOOD, GOOD + "!")

    with pytest.raises(CommandError, match="differ"):
        call_command("create_operator", "olga")

    assert not get_user_model().objects.filter(username="olga").exists()


def test_a_good_password_makes_an_operator_who_can_sign_in(monkeypatch):
    answers(monkeypatch, GOOD, GOOD)

    call_command("create_operator", "olga")

    user = authenticate(username="olga", password=GOOD)
    assert user is not None and user.is_staff and user.groups.filter(name="Operators").exists()


def test_an_account_left_with_an_empty_password_is_asked_for_one(monkeypatch):
    get_user_model().objects.create(username="newbie", password="")  # what the old command left behind
    answers(monkeypatch, GOOD, GOOD)

    call_command("create_operator", "newbie")

    assert authenticate(username="newbie", password=GOOD) is not None


def test_rotating_an_api_only_operators_token_asks_for_no_password(monkeypatch, capsys):
    """From an outside trial: the rotation asked for a password, and failed without a terminal."""
    call_command("create_operator", "scraper", "--no-password", "--api-token")
    answers(monkeypatch, EOFError)

    call_command("create_operator", "scraper", "--api-token")

    assert "API token" in capsys.readouterr().out
    assert not get_user_model().objects.get(username="scraper").has_usable_password()


def test_no_password_on_an_operator_who_has_one_says_it_removes_it(monkeypatch, capsys):
    answers(monkeypatch, GOOD, GOOD)
    call_command("create_operator", "olga")

    call_command("create_operator", "olga", "--no-password", "--api-token")

    assert "Password removed: olga can no longer sign in" in capsys.readouterr().out
    assert authenticate(username="olga", password=GOOD) is None
