"""Forms of the portal page: settings, the personal key, the uninstall confirmation."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from django import forms
from django.conf import settings
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.shapes import MALFORMED_KEY, is_credential_shaped


@lru_cache(maxsize=1)
def _zones_by_folded_name() -> dict[str, str]:
    return {zone.casefold(): zone for zone in zoneinfo.available_timezones()}


class LanguageSelect(forms.Select):
    """Each language's option marked as written in it (lang=): a screen reader read "Русский" on an English
    page, and "English" on a Russian one, with the page's voice."""

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(*args, **kwargs)
        option["attrs"]["lang"] = str(option["value"])
        return option


class PortalSettingsForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=settings.LANGUAGES,
        widget=LanguageSelect,
        help_text=_("For the bot's messages to people whose own language the app does not know."),
    )
    timezone = forms.CharField(label=_("Time zone"), max_length=64, help_text=_("For example Europe/Moscow."))
    bot_name = forms.CharField(
        label=_("Bot name"), max_length=100, required=False, help_text=_("Empty: the app's default name.")
    )

    def clean_timezone(self) -> str:
        """The zone's own spelling, whatever the case typed ("europe/moscow" is Europe/Moscow)."""
        value: str = self.cleaned_data["timezone"].strip()
        zone = _zones_by_folded_name().get(value.casefold())
        if zone is None:
            raise forms.ValidationError(_("Not a known time zone (for example Europe/Moscow)."))
        return zone


class PortalApiKeyForm(forms.Form):
    api_key = forms.CharField(
        label=_("Personal key"), max_length=200, widget=forms.PasswordInput(render_value=False), strip=True
    )

    def clean_api_key(self) -> str:
        value: str = self.cleaned_data["api_key"]
        if not value.startswith("vibe_api_"):
            raise forms.ValidationError(_("A personal key starts with vibe_api_."))
        if not is_credential_shaped(value):
            raise forms.ValidationError(MALFORMED_KEY)
        return value


class UninstallForm(forms.Form):
    confirm = forms.CharField(label=_("Confirm"), max_length=255)

    def __init__(self, *args: Any, domain: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.domain = domain
        # Named where it is asked for: the page shows the domain at its top, screens away on a phone, and a
        # screen reader going from field to field hears only the field and its hint. Escaped here: a form's
        # template shows help text as it is, and the domain is the platform's word.
        self.fields["confirm"].help_text = format_html(
            gettext("To confirm, type the portal's domain: {domain}"), domain=domain
        )

    def clean_confirm(self) -> str:
        value: str = self.cleaned_data["confirm"]
        if value.strip().casefold() != self.domain.casefold():  # a domain's case means nothing
            raise forms.ValidationError(_("Type the portal's domain exactly to confirm."))
        return value
