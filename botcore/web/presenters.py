"""How a portal's skills are shown to its admin: rows for the portal page, form fields, and API documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.translation import gettext

from botcore.models import EventLogEntry
from botcore.selectors import PortalSkill
from botcore.services.directory import Choice
from botcore.services.doubt_notices import chat_of, skill_title, what_the_person_heard, what_was_left
from botcore.services.notices import day_and_time
from botcore.skills.i18n import pick
from botcore.skills.options import Choice as ChoiceOption
from botcore.skills.routing import typed_command_answerers

INPUT_TYPES = {
    "integer": "number",
    "time": "time",
    "boolean": "checkbox",
    "secret": "password",
    "outside_url": "url",
}


def _text(table: Mapping[str, str], language: str, fallback: str = "") -> str:
    return pick(table, language) if table else fallback


def skill_row(entry: PortalSkill, language: str, *, commands: list[str] | None = None) -> dict[str, Any]:
    """One skill as the pages show it; `commands`: the typed commands listed under it (default: its own)."""
    skill = entry.skill
    if commands is None:
        commands = ["/" + spec.command for spec in skill.commands if not spec.button_only]
    return {
        "name": skill.name,
        "title": _text(skill.title, language, skill.name),
        "summary": _text(skill.summary, language),
        "is_enabled": entry.is_enabled,
        "has_options": bool(skill.options_schema),
        "commands": commands,
    }


def skill_rows(entries: list[PortalSkill], language: str) -> list[dict[str, Any]]:
    """The portal's skills in routing order, each typed command listed once: under the skill on that answers
    it (the router's precedence: /help goes to Help before Echo, and to Echo while Help is off), else, where
    no skill on answers it, under the first skill that would once turned on."""
    answerers = typed_command_answerers(entry.skill for entry in entries if entry.is_enabled)
    for name, skill in typed_command_answerers(entry.skill for entry in entries).items():
        answerers.setdefault(name, skill)
    return [
        skill_row(
            entry,
            language,
            commands=[
                "/" + spec.command
                for spec in entry.skill.commands
                if spec.accepts("textarea") and answerers.get(spec.key) is entry.skill
            ],
        )
        for entry in entries
    ]


def picked_values(text: str) -> list[str]:
    """The values a picker's field holds (its text as the form writes it: comma-separated)."""
    return [piece.strip() for piece in text.split(",") if piece.strip()]


def _picks(kind: str, text: str, pickers: Mapping[str, list[Choice] | None]) -> list[dict[str, Any]] | None:
    """The choices a picker offers (what the platform knows), the current ones marked; None: no picker."""
    choices = pickers.get(kind)
    if choices is None:
        return None
    chosen = picked_values(text)
    known = {choice.value for choice in choices}
    # A stored value the platform no longer shows stays pickable, so saving the form does not drop it; the
    # form says it is not known (for a chat: the bot is not in it now).
    extra = [Choice(value, value) for value in chosen if value not in known]
    return [
        {"value": c.value, "label": c.label, "selected": c.value in chosen, "known": c.value in known}
        for c in [*choices, *extra]
    ]


def _bound(value: int | None) -> str | None:
    """A bound as an input's attribute reads it: plain digits whatever the page's language (a localized
    number, "86 400", is no number to the browser)."""
    return None if value is None else str(value)


def option_fields(
    entry: PortalSkill,
    language: str,
    *,
    texts: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    pickers: Mapping[str, list[Choice] | None] | None = None,
) -> list[dict[str, Any]]:
    """One dict per option for the settings form: its input, current (or just posted) text and error.

    `pickers` maps an option kind ("group_chat", "portal_users") to what the platform knows to pick from.
    """
    fields = []
    for name, option in entry.skill.options_schema.fields.items():
        describe = option.describe()
        value = entry.options.get(name)
        # A secret is never written back into the page, not even the one just posted with an error beside it.
        text = "" if option.secret else texts.get(name, "") if texts is not None else option.to_text(value)
        error = (errors or {}).get(name, "")
        help_text = _text(option.help, language)
        picks = _picks(option.kind, text, pickers or {})
        # A chat picker with nothing to pick, or holding a chat the bot left, says why beside it.
        no_chats = option.kind == "group_chat" and picks == []
        not_joined = option.kind == "group_chat" and any(
            pick["selected"] and not pick["known"] for pick in picks or []
        )
        # What a screen reader reads with the field: its hint, its clock, what the picker lacks, its error
        # (ids in the template); a chat picker's notes were read by nobody but the sighted.
        notes = [f"{part}-{name}" for part, shown in (("help", help_text), ("clock", option.kind == "time"),
                                                       ("nochats", no_chats), ("notjoined", not_joined),
                                                       ("error", error)) if shown]  # fmt: skip
        fields.append(
            {
                "name": name,
                "label": _text(option.label, language, name.replace("_", " ").capitalize()),
                "help": help_text,
                "kind": option.kind,
                "input_type": INPUT_TYPES.get(option.kind, "text"),
                # A choice's option: the value posted, and its label in the viewer's language shown.
                "choices": [
                    {"value": value, "label": option.label_of(value, language)} for value in option.values
                ]
                if isinstance(option, ChoiceOption)
                else [],
                # A whole number's declared bounds, for the browser's number input (min, max); the server's
                # check (option.clean) stays the authority.
                "min": _bound(describe.get("min")),
                "max": _bound(describe.get("max")),
                "text": text,
                "picks": picks,
                "no_chats": no_chats,
                "not_joined": not_joined,
                "checked": (texts.get(name) if texts is not None else value) not in (None, "", False, "off"),
                "required": option.required,
                # A Secret, or a secret OutsideUrl: a password field that keeps the value when left empty.
                "secret": option.secret,
                "is_set": option.secret and bool(value),
                "error": error,
                "described_by": " ".join(notes),
            }
        )
    return fields


def skill_document(entry: PortalSkill) -> dict[str, Any]:
    """The API's view of one skill on a portal (every language of its texts; options as stored, each secret
    as "" and named in secretsSet when it has a value)."""
    skill = entry.skill
    return {
        "name": skill.name,
        "title": dict(skill.title),
        "summary": dict(skill.summary),
        "isEnabled": entry.is_enabled,
        "options": skill.options_schema.shown(entry.options),
        "secretsSet": skill.options_schema.secrets_set(entry.options),
        "optionsSchema": skill.options_schema.describe(),
        "commands": [
            {
                "command": spec.command,
                "title": dict(spec.title),
                "description": dict(spec.description),
                "buttonOnly": spec.button_only,
            }
            for spec in skill.commands
        ],
        "schedules": [{"name": spec.name, "cron": spec.cron} for spec in skill.schedules_for(entry.options)],
    }


def doubt_rows(entries: list[EventLogEntry], language: str, zone: ZoneInfo) -> list[dict[str, str]]:
    """The portal page's rows of entries left in doubt, in the active language, on the portal's clock."""
    return [
        {
            "when": day_and_time(entry.received_at.astimezone(zone)),
            "skill": skill_title(entry.skill, language),
            "chat": chat_of(entry),
            "what": what_was_left(entry.left_in_doubt),
            "heard": what_the_person_heard(entry.left_in_doubt),
            "admins_told": gettext("Yes") if entry.doubt_noticed_at is not None else gettext("Not yet"),
        }
        for entry in entries
    ]
