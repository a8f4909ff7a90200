"""Forms of the portal page: settings, the personal key, the uninstall confirmation."""
from __future__ import annotations

import zoneinfo

from django import forms

LANGUAGES = [("en", "English"), ("ru", "Русский")]


class PortalSettingsForm(forms.Form):
    language = forms.ChoiceField(choices=LANGUAGES)
    timezone = forms.CharField(max_length=64)
    bot_name = forms.CharField(max_length=100, required=False)

    def clean_timezone(self) -> str:
        value = self.cleaned_data["timezone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError("Not a known time zone (for example Europe/Moscow).")
        return value


class PortalApiKeyForm(forms.Form):
    api_key = forms.CharField(max_length=200, widget=forms.PasswordInput(render_value=False), strip=True)

    def clean_api_key(self) -> str:
        value = self.cleaned_data["api_key"]
        if not value.startswith("vibe_api_"):
            raise forms.ValidationError("A personal key starts with vibe_api_.")
        return value


class UninstallForm(forms.Form):
    confirm = forms.CharField(max_length=255, help_text="Type the portal's domain to confirm")

    def __init__(self, *args, domain: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.domain = domain

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.domain:
            raise forms.ValidationError("Type the portal's domain exactly to confirm.")
        return self.cleaned_data["confirm"]
