"""A Secret option: another service's token a portal's admin gives a skill. The skill reads it as text; it is
stored encrypted apart from the options (key rotation covers it, uninstalling destroys it), and no page, API
answer, admin view or log shows it again, only whether it is set. Each test looks for the token itself in
what was stored or shown."""

from __future__ import annotations

import json
import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import OperationalError, connection
from django.db.models.deletion import Collector
from django.test import Client

from botcore.errors import SkillConfigError
from botcore.models import SkillConfig, SkillSecret
from botcore.selectors import list_enabled_skills
from botcore.services.skill_configs import configure_skill
from botcore.skills.options import OptionsError, OutsideUrl, Secret
from tenants.crypto import is_encrypted_with_newest_key
from tenants.models import Portal
from tenants.services import uninstall_portal
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "jira-pat-7f3a9c1e5b"  # what the admin pastes; must never come back out


@pytest.fixture(autouse=True)
def tracker_installed(settings):
    settings.BOTCORE_SKILLS = [
        "help",
        "tests.botcore.skills.tracker.TrackerSkill",
        "tests.botcore.skills.tracker.WebhookSkill",
        "echo",
    ]


@pytest.fixture
def acme():
    return make_portal("acme")


def tracker_options(portal) -> dict:
    return next(options for skill, options in list_enabled_skills(portal) if skill.name == "tracker")


def every_stored_text() -> str:
    """Every row of every table, as text (what a backup or a replica holds)."""
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            texts.append(json.dumps(cursor.fetchall(), default=str))
    return "\n".join(texts)


def test_the_skill_reads_its_token_and_nothing_stored_holds_it_in_clear(acme):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN, "project": "WEB"})

    assert tracker_options(acme) == {"project": "WEB", "token": TOKEN}
    assert "token" not in SkillConfig.objects.get(portal=acme, skill_name="tracker").options
    assert TOKEN not in every_stored_text()
    assert SkillSecret.objects.get(portal=acme).value.raw != TOKEN


def test_changing_another_option_keeps_the_token_and_an_empty_one_removes_it(acme):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    configure_skill(acme, skill_name="tracker", options={"project": "WEB"})
    assert tracker_options(acme)["token"] == TOKEN
    configure_skill(acme, skill_name="tracker", options={"token": ""})
    assert not SkillSecret.objects.exists() and tracker_options(acme)["token"] == ""


def test_an_operators_shell_echoing_configure_skill_shows_whether_the_token_is_set_not_what_it_is(acme):
    """From a skill author's trial: docs/skills.md §1.5's `configure_skill(...)` in `manage.py shell` echoed
    its result, whose options held the token in clear, on the operator's terminal."""
    configured = configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    assert configured.options["token"] == TOKEN  # the value itself stays for the code that reads it
    assert TOKEN not in repr(configured) and TOKEN not in str(configured)
    assert "'token': '<set>'" in repr(configured)
    empty = configure_skill(acme, skill_name="tracker", options={"token": ""})
    assert "'token': ''" in repr(empty)


def test_a_secret_with_a_default_in_code_is_refused():
    with pytest.raises(SkillConfigError):
        Secret(default="sk-live-in-the-source")


def test_the_settings_page_never_shows_the_token_keeps_it_when_left_empty_and_removes_it_when_asked(acme):
    admin = signed_in(acme, is_admin=True)
    saved = admin.post("/portal/skills/tracker/", {"is_enabled": "on", "project": "OPS", "token": TOKEN})
    assert saved.status_code == 302
    page = admin.get("/portal/skills/tracker/").content.decode()
    assert TOKEN not in page and 'type="password"' in page and 'data-testid="clear-token"' in page

    admin.post("/portal/skills/tracker/", {"is_enabled": "on", "project": "WEB", "token": ""})
    assert tracker_options(acme) == {"project": "WEB", "token": TOKEN}

    refused = admin.post(
        "/portal/skills/tracker/", {"is_enabled": "on", "project": "x" * 600, "token": "new-one"}
    )
    assert refused.status_code == 400 and "new-one" not in refused.content.decode()
    assert tracker_options(acme)["token"] == TOKEN

    admin.post("/portal/skills/tracker/", {"project": "WEB", "token": "", "token__clear": "on"})
    assert not SkillSecret.objects.exists()


def test_the_api_says_whether_the_token_is_set_and_never_what_it_is(acme):
    admin = signed_in(acme, is_admin=True)
    set_it = admin.patch(
        "/api/skills/tracker/",
        {"isEnabled": True, "options": {"token": TOKEN}},
        content_type="application/json",
    )
    assert set_it.status_code == 200 and TOKEN not in set_it.content.decode()
    for client in (admin, signed_in(acme, is_admin=False)):
        for answer in (client.get("/api/skills/tracker/"), client.get("/api/skills/")):
            assert answer.status_code == 200 and TOKEN not in answer.content.decode()
    shown = admin.get("/api/skills/tracker/").json()
    assert shown["options"]["token"] == "" and shown["secretsSet"] == ["token"]
    assert shown["optionsSchema"]["token"]["kind"] == "secret"
    kept = admin.patch(
        "/api/skills/tracker/", {"options": {"project": "WEB"}}, content_type="application/json"
    )
    assert kept.json()["secretsSet"] == ["token"] and tracker_options(acme)["token"] == TOKEN


def test_operators_admin_pages_and_dumpdata_do_not_show_it(acme):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    operator = Client()
    operator.force_login(get_user_model().objects.create_superuser("ops", "ops@example.com", "pw-for-tests"))
    config = SkillConfig.objects.get(portal=acme, skill_name="tracker")
    for url in ("/admin/botcore/skillconfig/", f"/admin/botcore/skillconfig/{config.pk}/change/",
                f"/admin/tenants/portal/{acme.pk}/change/"):  # fmt: skip
        page = operator.get(url)
        assert page.status_code == 200 and TOKEN not in page.content.decode(), url
    dumped = StringIO()
    call_command("dumpdata", "botcore", stdout=dumped)
    assert TOKEN not in dumped.getvalue()


def test_key_rotation_re_encrypts_it_and_uninstalling_destroys_it(acme, settings):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode(), *settings.TENANTS_FERNET_KEYS]
    out = StringIO()
    call_command("rotate_encryption_keys", "--no-progress", stdout=out)
    assert "botcore.SkillSecret: 1 of 1 rows re-encrypted" in out.getvalue()
    assert is_encrypted_with_newest_key(SkillSecret.objects.get().value.raw)
    settings.TENANTS_FERNET_KEYS = settings.TENANTS_FERNET_KEYS[:1]  # the old key retired
    assert tracker_options(acme)["token"] == TOKEN

    uninstall_portal(acme, reason="operator")
    assert not SkillSecret.objects.exists()


def test_a_token_this_processs_keys_cannot_open_reads_as_empty_and_is_logged_without_it(
    acme, settings, caplog
):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode()]
    with caplog.at_level(logging.INFO):
        assert tracker_options(acme)["token"] == ""
    assert "skill secret unreadable" in caplog.text and TOKEN not in caplog.text


def test_a_token_this_processs_keys_cannot_open_is_kept_when_another_option_is_saved(acme, settings):
    # A web process started without the key the token was encrypted with (a key rotation half rolled out):
    # the form shows the token unset, and saving the project there must not destroy it for the processes that
    # can read it.
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    keys = settings.TENANTS_FERNET_KEYS
    settings.TENANTS_FERNET_KEYS = [Fernet.generate_key().decode()]
    configure_skill(acme, skill_name="tracker", options={"project": "WEB"})
    settings.TENANTS_FERNET_KEYS = keys
    assert tracker_options(acme) == {"project": "WEB", "token": TOKEN}


def test_an_error_report_of_the_settings_page_shows_neither_the_stored_token_nor_the_one_posted(
    acme, settings, monkeypatch
):
    # The debug page and the report a mail to ADMINS carries list every frame's variables and the form: the
    # page's skill held the stored token opened, the form the new one typed; a database locked past its
    # timeout while saving the secret is enough to show them.
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    settings.DEBUG = True
    admin = signed_in(acme, is_admin=True)
    admin.raise_request_exception = False

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("botcore.services.skill_configs._store_secrets", locked)
    typed = "jira-pat-typed-4d2e8b"
    failed = admin.post("/portal/skills/tracker/", {"is_enabled": "on", "project": "WEB", "token": typed})
    report = failed.content.decode()
    assert failed.status_code == 500 and "database is locked" in report and "Local vars" in report
    assert TOKEN not in report and typed not in report


def test_a_token_stored_in_clear_before_its_option_became_a_secret_is_moved_at_the_next_save(acme):
    # A skill's release turning a Text option into a Secret: the value its portals stored in the options
    # still runs the skill, and the next save of any option keeps it encrypted, not in the options.
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"project": "OPS"})
    SkillConfig.objects.filter(portal=acme, skill_name="tracker").update(
        options={"project": "OPS", "token": TOKEN}
    )
    configure_skill(acme, skill_name="tracker", options={"project": "WEB"})
    assert tracker_options(acme) == {"project": "WEB", "token": TOKEN}
    assert "token" not in SkillConfig.objects.get(portal=acme, skill_name="tracker").options
    assert TOKEN not in every_stored_text()


def _delete_as_the_release_before(portal) -> None:
    """Delete `portal` as the release before this table does (its purge after an uninstall, on a rollback or
    while it still runs beside this one, docs/operators.md "Upgrade"): Django's collector of that release
    deletes every row of the models it knows, and knows no SkillSecret."""
    collector = Collector(using=connection.alias)
    collector.collect([portal])
    collector.data.pop(SkillSecret, None)
    collector.fast_deletes = [rows for rows in collector.fast_deletes if rows.model is not SkillSecret]
    collector.delete()


def test_a_portal_the_release_before_purges_takes_its_secrets_with_it(acme):
    configure_skill(acme, skill_name="tracker", is_enabled=True, options={"token": TOKEN})
    uninstalled_there = make_portal("globex")  # uninstalled by the release before: its secret was left
    configure_skill(uninstalled_there, skill_name="tracker", is_enabled=True, options={"token": TOKEN})

    _delete_as_the_release_before(uninstalled_there)  # the FOREIGN KEY failed the purge at its commit

    assert not Portal.objects.filter(pk=uninstalled_there.pk).exists()
    assert list(SkillSecret.objects.values_list("portal_id", flat=True)) == [acme.pk]


# An incoming webhook's address is its credential: Slack's and Bitrix24's carry their token in the path.
HOOK = "https://portal.bitrix24.example/rest/1/wh0ok7s3cr3t9x/"


def test_a_webhook_address_declared_secret_is_kept_and_shown_as_a_secret_is(acme, caplog):
    admin = signed_in(acme, is_admin=True)
    with caplog.at_level(logging.DEBUG):
        saved = admin.post("/portal/skills/webhook/", {"is_enabled": "on", "hook": HOOK})
    assert saved.status_code == 302
    webhook = next(options for skill, options in list_enabled_skills(acme) if skill.name == "webhook")
    assert webhook == {"hook": HOOK}  # the skill reads it as it was given
    assert HOOK not in every_stored_text() and "wh0ok7s3cr3t9x" not in every_stored_text()
    assert SkillSecret.objects.get(portal=acme, skill_name="webhook", name="hook")
    page = admin.get("/portal/skills/webhook/").content.decode()
    assert "wh0ok7s3cr3t9x" not in page and 'type="password"' in page and 'data-testid="clear-hook"' in page
    shown = admin.get("/api/skills/webhook/")
    assert "wh0ok7s3cr3t9x" not in shown.content.decode()
    assert shown.json()["secretsSet"] == ["hook"] and shown.json()["optionsSchema"]["hook"]["secret"] is True
    assert "wh0ok7s3cr3t9x" not in caplog.text

    # Still an outside address: one leading inward is refused when saved, without echoing it.
    refused = admin.post(
        "/portal/skills/webhook/", {"is_enabled": "on", "hook": "http://10.0.0.9/rest/1/k3y/"}
    )
    assert refused.status_code == 400 and "k3y" not in refused.content.decode()
    assert "must be an address on the internet" in refused.content.decode()
    admin.post("/portal/skills/webhook/", {"hook": "", "hook__clear": "on"})
    assert not SkillSecret.objects.exists()


def test_a_secret_webhook_address_with_a_default_in_code_is_refused():
    with pytest.raises(SkillConfigError):
        OutsideUrl(secret=True, default=HOOK)
    assert OutsideUrl(default="https://status.example/").secret is False
    with pytest.raises(OptionsError):
        configure_skill(make_portal("initech"), skill_name="webhook", options={"hook": "ftp://x.example/"})
