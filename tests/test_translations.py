"""Every user-facing text is in every catalogue: extracted afresh from the code, each message must be in
locale/<lang>/LC_MESSAGES/django.po (translated, not fuzzy, for every language but the English source), and
the committed .mo must be what that .po compiles to."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

ROOT = Path(__file__).resolve().parents[1]
SOURCE_LANGUAGE = "en"
# The same command `make messages` runs (docs/translating.md).
MAKEMESSAGES = [
    "makemessages",
    "--all",
    "--keep-pot",
    "--no-obsolete",
    "--add-location=file",
    "--ignore=.venv",
    "--ignore=sandbox",
    "--ignore=tests",
    "--ignore=benchmarks",
    "--ignore=deploy",
    "--ignore=docs",
]


def need_gettext_tools() -> None:
    if not shutil.which("msgcmp") or not shutil.which("xgettext"):
        pytest.fail("GNU gettext is not installed: `make test` installs it (apt-get install gettext)")


@pytest.fixture(scope="module")
def fresh_pot(tmp_path_factory) -> Path:
    """The messages in the code now, extracted in a copy of the tree (the real catalogues stay untouched)."""
    need_gettext_tools()
    copy = tmp_path_factory.mktemp("tree") / "src"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", "*.mo"))
    env = {**os.environ, "VIBE_VAR_DIR": str(copy / "var")}
    subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return copy / "locale" / "django.pot"


@pytest.mark.slow
@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_every_message_of_the_code_is_in_the_catalogue(fresh_pot, language):
    po = ROOT / "locale" / language / "LC_MESSAGES" / "django.po"
    assert po.exists(), f"no catalogue for {language}: see docs/translating.md"
    # English is the source language: its msgid is its text, so an empty translation is complete.
    untranslated_ok = ["--use-untranslated"] if language == SOURCE_LANGUAGE else []
    compared = subprocess.run(
        ["msgcmp", *untranslated_ok, str(po), str(fresh_pot)], capture_output=True, text=True
    )
    assert compared.returncode == 0, (
        f"locale/{language} misses messages (run `make messages`, then translate):\n{compared.stderr[-3000:]}"
    )


@pytest.mark.parametrize("language", [code for code, _ in settings.LANGUAGES])
def test_the_committed_mo_is_the_compiled_po(tmp_path, language):
    need_gettext_tools()
    folder = ROOT / "locale" / language / "LC_MESSAGES"
    compiled = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(compiled), str(folder / "django.po")], check=True)
    assert compiled.read_bytes() == (folder / "django.mo").read_bytes(), (
        "run `make messages` and commit the .mo"
    )


def test_a_russian_reader_gets_russian_texts():
    from botcore.skills.builtin.echo import texts_for

    assert texts_for("ru")["ping"] == "Пинг" and texts_for("ru-RU")["help"] == "Помощь"
    assert texts_for("de")["ping"] == "Ping"  # a language the app does not speak: English
    with translation.override("ru"):
        from tenants.forms import PortalSettingsForm

        assert str(PortalSettingsForm().fields["bot_name"].label) == "Имя бота"
