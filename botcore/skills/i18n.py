"""Texts per language: a table {"en": …, "ru": …} per text; the event's language is picked, else English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

FALLBACK_LANGUAGE = "en"


def normalize_language(value: str | None) -> str:
    """ "ru-RU", "RU", "ru_ru" → "ru"; nothing → ""."""
    return (value or "").strip().lower().replace("_", "-").split("-")[0][:8]


def pick(table: Mapping[str, T], language: str) -> T:
    """The entry for `language`, else English, else the first one there is."""
    language = normalize_language(language)
    if language in table:
        return table[language]
    if FALLBACK_LANGUAGE in table:
        return table[FALLBACK_LANGUAGE]
    return next(iter(table.values()))
