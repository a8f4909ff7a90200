"""Texts in the recipient's language: Django's gettext catalogues (locale/), read under the event's language.

    from django.utils.translation import gettext, gettext_lazy as _
    with in_language(ctx.language):            # the event's user's language, else the portal's
        ctx.reply(gettext("Hello, {name}!").format(name=name))
    title = every_language(_("Dice"))          # {"en": "Dice", "ru": "Кости"}: what the platform stores

`pick(table, language)` still reads a hand-made {"en": …, "ru": …} table, for a skill package that ships
its own texts without a catalogue; the built-in skills use the catalogues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar

from django.conf import settings
from django.utils import translation

from botcore.vibe.errors import VibeError
from botcore.vibe.models import PortalUser

T = TypeVar("T")

FALLBACK_LANGUAGE = "en"

log = logging.getLogger(__name__)


def normalize_language(value: str | None) -> str:
    """ "ru-RU", "RU", "ru_ru" → "ru"; nothing → ""."""
    return (value or "").strip().lower().replace("_", "-").split("-")[0][:8]


def list_languages() -> list[str]:
    """The languages the app speaks (settings.LANGUAGES), English first."""
    return [code for code, _ in settings.LANGUAGES]


def supported_language(language: str | None) -> str:
    """`language` if the app speaks it, else English."""
    language = normalize_language(language)
    return language if language in list_languages() else FALLBACK_LANGUAGE


@contextmanager
def in_language(language: str | None) -> Iterator[str]:
    """Translate in `language` (English when the app does not speak it) for the duration."""
    chosen = supported_language(language)
    with translation.override(chosen):
        yield chosen


def translate(text: object, language: str | None) -> str:
    """A lazy gettext text, rendered in `language`."""
    with in_language(language):
        return str(text)


class EveryLanguage(Mapping[str, str]):
    """{language: text} for each language of settings.LANGUAGES, rendered when read (the catalogues load
    after the apps do, skills are declared before). Command titles go to the platform in this form."""

    def __init__(self, text: object) -> None:
        self.text = text

    def __getitem__(self, language: str) -> str:
        if language not in list_languages():
            raise KeyError(language)
        return translate(self.text, language)

    def __iter__(self) -> Iterator[str]:
        return iter(list_languages())

    def __len__(self) -> int:
        return len(list_languages())

    def __repr__(self) -> str:
        return f"EveryLanguage({str(self.text)!r})"


def every_language(text: object) -> EveryLanguage:
    return EveryLanguage(text)


def pick(table: Mapping[str, T], language: str) -> T:
    """The entry for `language`, else English, else the first one there is."""
    language = normalize_language(language)
    if language in table:
        return table[language]
    if FALLBACK_LANGUAGE in table:
        return table[FALLBACK_LANGUAGE]
    return next(iter(table.values()))


def listed_languages(list_people: Callable[[], Sequence[PortalUser]], *, portal: str) -> dict[int, str]:
    """Each person's own language as the portal's directory lists them (GET /v1/users, through
    `list_people`): a chat's members (imbot.v2's user objects) name none. Best effort: without the `user`
    scope, or with the platform failing, none, and the caller falls back (the portal's language)."""
    try:
        people = list_people()
    except VibeError as error:
        log.warning("the portal's people not listed for their languages portal=%s: %s", portal, error)
        return {}
    return {user.id: user.language for user in people if user.language}
