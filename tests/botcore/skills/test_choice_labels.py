"""A Choice option's choices each with a label per language: the settings page's select shows the label in
the viewer's language and posts the choice itself, its refusal names the labels the admin sees; the API gives
every language's labels beside the choices; a choice declared without labels reads as before."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from botcore.models import SkillConfig
from botcore.selectors import PortalSkill
from botcore.skills.base import Skill
from botcore.skills.options import Choice, OptionsError, OptionsSchema
from botcore.vibe.events import EventType
from botcore.web.presenters import option_fields
from tests.botcore.skills.test_portal_admin import make_portal, signed_in

pytestmark = pytest.mark.django_db

DICE = ["help", "tests.botcore.skills.dice.DiceSkill", "echo"]


@pytest.fixture
def dice(settings):
    settings.BOTCORE_SKILLS = DICE
    return make_portal("acme")


def select_options(page: str, name: str) -> list[tuple[str, bool, str]]:
    """(value, selected, text) of each <option> of the page's <select> named `name`."""
    select = page.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
    return [
        (value, "selected" in attributes, text)
        for value, attributes, text in re.findall(r'<option value="([^"]*)"([^>]*)>([^<]*)</option>', select)
    ]


def test_the_settings_page_shows_each_choice_by_its_label_and_posts_the_choice(dice):
    """The select showed the raw values ("total", "each"): words of the skill's code, not the admin's."""
    admin = signed_in(dice, is_admin=True)
    page = admin.get("/portal/skills/dice/").content.decode()
    assert select_options(page, "show") == [("total", True, "The total"), ("each", False, "Each die")]
    # Declared without labels, a choice still shows as it is.
    assert select_options(page, "colour") == [("red", True, "red"), ("white", False, "white")]

    saved = admin.post("/portal/skills/dice/", {"is_enabled": "on", "show": "each", "colour": "white"})
    assert saved.status_code == 302
    options = SkillConfig.objects.get(portal=dice, skill_name="dice").options
    assert options["show"] == "each" and options["colour"] == "white"  # the choice, never its label
    page = admin.get("/portal/skills/dice/").content.decode()
    assert ("each", True, "Each die") in select_options(page, "show")


def test_a_russian_admin_sees_the_russian_labels(dice):
    admin = signed_in(dice, is_admin=True)
    page = admin.get("/portal/skills/dice/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert select_options(page, "show") == [("total", True, "Сумма"), ("each", False, "Каждый кубик")]
    assert 'for="opt-show">Показывать<' in page


def test_a_label_missing_in_the_viewers_language_falls_back_as_other_texts_do(dice):
    """English when the label has no entry in the language, else the first language it has (pick)."""

    class Only(Skill):
        name = "only"
        event_types = frozenset({EventType.MESSAGE_ADD})
        options_schema = OptionsSchema(
            size=Choice(choices={"s": {"en": "Small", "ru": "Маленький"}, "l": {"ru": "Большой"}, "m": {}})
        )

        def handle(self, event, ctx) -> None: ...

    entry = PortalSkill(Only(), True, {"size": "l"}, True)
    for language, shown in (("de", ["Small", "Большой", "m"]), ("ru", ["Маленький", "Большой", "m"])):
        (field,) = option_fields(entry, language)
        assert [choice["label"] for choice in field["choices"]] == shown
        assert [choice["value"] for choice in field["choices"]] == ["s", "l", "m"]


def test_a_refused_choice_on_the_page_names_the_labels_the_admin_sees(dice):
    """A stale form (a choice the skill has since dropped) or a hand-made post is refused naming what the
    select shows, in the page's language: "total, each" named nothing on the page."""
    admin = signed_in(dice, is_admin=True)
    refused = admin.post("/portal/skills/dice/", {"is_enabled": "on", "show": "average"})
    assert refused.status_code == 400
    assert "must be one of The total, Each die" in refused.content.decode()
    russian = admin.post(
        "/portal/skills/dice/", {"is_enabled": "on", "show": "average"}, HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert "должно быть одним из: Сумма, Каждый кубик" in russian.content.decode()
    assert not SkillConfig.objects.filter(skill_name="dice").exists()


def test_the_api_gives_each_choices_labels_in_every_language_and_takes_the_choice(dice):
    admin = signed_in(dice, is_admin=True)
    schema = admin.get("/api/skills/dice/").json()["optionsSchema"]
    assert schema["show"]["choices"] == ["total", "each"]
    assert schema["show"]["choiceLabels"] == {
        "total": {"en": "The total", "ru": "Сумма"},
        "each": {"en": "Each die", "ru": "Каждый кубик"},
    }
    assert schema["colour"]["choices"] == ["red", "white"]
    assert schema["colour"]["choiceLabels"] == {"red": {}, "white": {}}

    changed = admin.patch("/api/skills/dice/", {"options": {"show": "each"}}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["options"]["show"] == "each"
    # A program sends the choice itself, so the API's refusal names the choices.
    refused = admin.patch(
        "/api/skills/dice/", {"options": {"show": "Each die"}}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json() == {"options": {"show": "must be one of total, each"}}


def test_the_api_schema_documents_the_choice_labels(dice):
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    document = components["SkillDocument"]["properties"]["optionsSchema"]
    option = components[document["additionalProperties"]["$ref"].rsplit("/", 1)[1]]
    described = {"kind", "label", "help", "default", "required", "choices", "choiceLabels"}
    assert described <= set(option["properties"])
    assert "label" in option["properties"]["choiceLabels"]["description"]


def test_a_schema_refuses_a_label_in_the_form_as_the_api_would_be_given_it():
    """The stored value is the choice: a label typed where the choice goes is refused, on a form too."""
    schema = OptionsSchema(show=Choice(choices={"total": {"en": "The total"}, "each": {"en": "Each die"}}))
    with pytest.raises(OptionsError):
        schema.validate({"show": "The total"})
    assert schema.parse_form({"show": "each"}) == {"show": "each"}
    assert schema.defaults() == {"show": "total"}
