"""/api/schema/ answers anyone: what an anonymous caller can make it cost is bounded (an attacker's trial)."""

from __future__ import annotations

import pytest
from django.utils.translation import trans_real
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(monkeypatch) -> list[int]:
    """One item for each schema drf-spectacular builds."""
    builds: list[int] = []
    original = SchemaGenerator.get_schema

    def counting(self, *args, **kwargs):
        builds.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counting)
    return builds


def test_a_lang_the_app_does_not_speak_is_refused_and_keeps_nothing():
    """drf-spectacular activates whatever `?lang=` names, and Django keeps a translation object for each
    language ever activated, for the process's life: distinct values grew the web process by ~10 KB a request
    (5 MB per 500, anonymous, up to VIBE_API_RATE a minute per address)."""
    client = APIClient()
    kept = len(trans_real._translations)
    answers = {client.get("/api/schema/", {"lang": f"x{n}-" + "a" * 300}).status_code for n in range(20)}
    assert answers == {400}
    assert len(trans_real._translations) == kept
    assert client.get("/api/schema/", {"lang": "ru", "format": "json"}).status_code == 200


def test_the_schema_is_built_once_per_language(built):
    """Each request built the schema anew (~100 ms of CPU): an anonymous caller at VIBE_API_RATE (600 a
    minute) kept one core busy per address."""
    client = APIClient()
    english = [client.get("/api/schema/", {"format": "json"}).json() for _ in range(3)]
    russian = [client.get("/api/schema/", {"format": "json", "lang": "ru"}).json() for _ in range(3)]
    assert len(built) <= 2
    assert english[0] == english[2] and russian[0] == russian[2]
    assert "paths" in english[0] and english[0]["paths"] == russian[0]["paths"]


def test_a_changed_setting_builds_the_schema_again(built, settings):
    """Tests (and anything else that changes settings in a running process) get the schema of the settings
    they run with, not one built before."""
    client = APIClient()
    client.get("/api/schema/", {"format": "json"})
    settings.VIBE_API_RATE = "5/m"
    client.get("/api/schema/", {"format": "json"})
    assert len(built) == 2
