"""The test suite's own hygiene: a test's language never carries over into the next (tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.utils import translation


@pytest.mark.django_db
def test_a_page_asked_for_in_russian(client):
    client.get("/healthz", HTTP_ACCEPT_LANGUAGE="ru")  # LocaleMiddleware activates Russian in the thread


def test_the_next_test_starts_in_the_default_language(settings):
    assert translation.get_language() == settings.LANGUAGE_CODE
