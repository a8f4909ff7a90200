"""The language a page is shown in: the viewer's own (their browser's), else their portal's, else English."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation.trans_real import parse_accept_lang_header

from tenants.models import PortalSettings
from tenants.viewer import find_viewer


def _supported(code: str) -> str:
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return ""


def choose_page_language(request: HttpRequest) -> str:
    """Bitrix24 opens the app in the viewer's own interface language, which their browser sends; a viewer
    whose languages the app does not speak gets the portal's language, which its admin chose."""
    for code, _ in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code != "*" and (language := _supported(code)):
            return language
    viewer = find_viewer(request)
    if viewer is not None:
        portal_language = (
            PortalSettings.objects.filter(portal__member_id=viewer.member_id)
            .values_list("language", flat=True)
            .first()
        )
        if portal_language and (language := _supported(portal_language)):
            return language
    return settings.LANGUAGE_CODE


class ViewerLanguageMiddleware:
    """Django's LocaleMiddleware, with the portal's setting as the fallback instead of LANGUAGE_CODE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        language = choose_page_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Accept-Language",))
        return response
