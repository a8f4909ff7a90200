"""The portal admin's skill pages: a section on tenants' portal page, and a settings page per skill.

tenants never imports botcore: its portal page calls the callables listed in TENANTS_PORTAL_SECTIONS,
and `portal_sections` below is one. Everyone signed in to the portal sees which skills are on; only
its administrators may switch them or change options. Every query is scoped to the viewer's portal.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from botcore import conf
from botcore.errors import BotCodesTakenError, SkillConfigError
from botcore.models import Bot
from botcore.selectors import find_portal_bot, get_portal_skill, list_left_in_doubt, list_portal_skills
from botcore.services.bot_codes import MAX_CODES, derived_code
from botcore.services.directory import list_known_chats, list_portal_people
from botcore.services.skill_configs import configure_skill
from botcore.skills.cron import portal_zone
from botcore.skills.options import OptionsError
from botcore.web.presenters import doubt_rows, option_fields, picked_values, skill_row, skill_rows
from tenants.framing import frameable_by_portal
from tenants.models import Portal
from tenants.selectors import get_portal_preferences
from tenants.viewer import Viewer, find_viewer
from tenants.views import open_from_bitrix, through_entry


def _language(portal: Portal) -> str:
    """The page's language (tenants' middleware chose it: the viewer's, else the portal's)."""
    return get_language() or "en"


def portal_sections(*, request: HttpRequest, portal: Portal, viewer: Viewer) -> list[dict]:
    """The portal page's cards from botcore (a TENANTS_PORTAL_SECTIONS callable): the bot's state when it
    is not answering, then "Skills"."""
    language = _language(portal)
    rows = skill_rows(list_portal_skills(portal), language)
    skills = {"template": "botcore/portal_skills_section.html", "skills": rows, "is_admin": viewer.is_admin}
    sections = [skills]
    if viewer.is_admin and (left := list_left_in_doubt(portal, now=timezone.now())):
        # What the admins' notice told of (services/doubt_notices.py), for the admin who missed it, or who
        # wants the rest of a burst it counted.
        zone = portal_zone(get_portal_preferences(portal).timezone)
        sections.append(
            {"template": "botcore/portal_doubts_section.html", "rows": doubt_rows(left, language, zone)}
        )
    bot = find_portal_bot(portal)
    if bot is None or bot.status == Bot.Status.ACTIVE:
        return sections
    # Broken, paused or waiting: the portal's people were told only by the bot's silence.
    state = {
        "template": "botcore/portal_bot_section.html",
        "status": bot.status,
        "reason": bot.broken_reason[:300],
        "is_admin": viewer.is_admin,
        # Not the platform's refusal but another app's bots: only the portal's admin can free a code.
        "codes_taken": bot.broken_reason.startswith(f"{BotCodesTakenError.__name__}:"),
        "first_code": conf.bot_code(),
        "last_code": derived_code(conf.bot_code(), MAX_CODES),
    }
    return [state, *sections]


def _viewer_portal(request: HttpRequest) -> tuple[Viewer | None, Portal | None]:
    viewer = find_viewer(request)
    portal = viewer.portal() if viewer else None
    if portal is not None and not portal.is_installed:
        portal = None
    return viewer, portal


def _refuse(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "tenants/error.html", {"message": message}, status=status)


@frameable_by_portal
@require_http_methods(["GET", "HEAD", "POST"])
def skill_settings(request: HttpRequest, name: str) -> HttpResponse:
    """One skill's switch and options for the viewer's portal; POST (admins only) saves both at once."""
    if (entry := through_entry(request)) is not None:
        return entry
    viewer, portal = _viewer_portal(request)
    if viewer is None or portal is None:
        return open_from_bitrix(request)
    try:
        entry = get_portal_skill(portal, name)
    except SkillConfigError:
        return _refuse(request, _("There is no such skill."), 404)
    texts, errors = None, {}
    if request.method == "POST":
        if not viewer.is_admin:
            return _refuse(request, _("Only a portal administrator can change skills."), 403)
        # A picker of people posts one value per ticked box.
        texts = {field: ",".join(request.POST.getlist(field)) for field in entry.skill.options_schema.fields}
        try:
            options = entry.skill.options_schema.parse_form(texts)
            for secret in entry.skill.options_schema.secret_names():
                if request.POST.get(f"{secret}__clear") == "on":
                    options[secret] = ""  # "Remove it" ticked: the form's empty field alone keeps it
            configure_skill(
                portal, skill_name=name, is_enabled=request.POST.get("is_enabled") == "on", options=options
            )
        except OptionsError as error:
            errors = error.errors
        else:
            messages.success(request, _("Saved."))
            return redirect("tenants:portal")
    is_enabled = (request.POST.get("is_enabled") == "on") if texts is not None else entry.is_enabled
    return _render_settings(request, viewer, portal, entry, texts=texts, errors=errors, is_enabled=is_enabled)


def _pickers(portal: Portal, entry, *, texts: Mapping[str, str] | None = None) -> dict:
    """Ask the platform only for what this skill's form picks from. The chats picked (stored, or just posted)
    are offered whatever the picker's cap."""
    fields = entry.skill.options_schema.fields
    kinds = {option.kind for option in fields.values()}
    pickers = {}
    if "group_chat" in kinds:
        picked = [
            texts.get(name, "") if texts is not None else option.to_text(entry.options.get(name))
            for name, option in fields.items()
            if option.kind == "group_chat"
        ]
        chosen = [value for text in picked for value in picked_values(text)]
        pickers["group_chat"] = list_known_chats(portal, chosen=chosen)
    if "portal_users" in kinds:
        pickers["portal_users"] = list_portal_people(portal)
    return pickers


def _render_settings(request, viewer, portal, entry, *, texts, errors, is_enabled) -> HttpResponse:
    language = _language(portal)
    # Only an admin's form shows the fields; a member's view asks the platform for nothing.
    fields = (
        option_fields(
            entry, language, texts=texts, errors=errors, pickers=_pickers(portal, entry, texts=texts)
        )
        if viewer.is_admin
        else []
    )
    context = {
        "viewer": viewer,
        "portal": portal,
        "skill": skill_row(entry, language),
        "fields": fields,
        # The summary at the page's top (templates/base.html), each mistake a link to its field.
        "error_links": [
            {"id": f"opt-{field['name']}", "label": field["label"], "message": field["error"]}
            for field in fields
            if field["error"]
        ],
        "form_error": errors.get("", ""),
        "is_enabled": is_enabled,
        "timezone": get_portal_preferences(portal).timezone,
    }
    return render(request, "botcore/skill_settings.html", context, status=400 if errors else 200)


@frameable_by_portal
@require_POST
def skill_switch(request: HttpRequest, name: str) -> HttpResponse:
    """Turn a skill on or off from the portal page (admins only); a skill that needs options first says so."""
    viewer, portal = _viewer_portal(request)
    if viewer is None or portal is None:
        return open_from_bitrix(request)
    if not viewer.is_admin:
        return _refuse(request, _("Only a portal administrator can change skills."), 403)
    wanted = request.POST.get("is_enabled") == "on"
    try:
        configure_skill(portal, skill_name=name, is_enabled=wanted)
    except OptionsError as error:  # it needs options first: the settings form shows which
        entry = get_portal_skill(portal, name)
        return _render_settings(
            request, viewer, portal, entry, texts=None, errors=error.errors, is_enabled=wanted
        )
    except SkillConfigError:
        return _refuse(request, _("There is no such skill."), 404)
    # As the settings form says "Saved.": the page comes back the same, and the switch alone said nothing.
    title = skill_row(get_portal_skill(portal, name), _language(portal))["title"]
    notice = _("%(skill)s is on.") if wanted else _("%(skill)s is off.")
    messages.success(request, notice % {"skill": title})
    return redirect("tenants:portal")
