"""Which pages the portal's Bitrix24 may show in its frame: the one decorator that says so, and the sources.

Bitrix24 opens the app inside the portal's own page, in an iframe (CONTRACT B §5.2), so a portal-facing page
must let the portal's Bitrix24 frame it; every other page (the admin, the fleet page, the operator API,
/metrics, the schema) keeps the settings' `frame-ancestors 'none'` and `X-Frame-Options: DENY`. A portal page
names its framers in its Content-Security-Policy: TENANTS_FRAME_ANCESTORS (the Bitrix24 cloud zones by
default) and, when the request's portal is known, that portal's own address, for a portal on its own domain.
It sends no X-Frame-Options, which has no allow-list: browsers that know frame-ancestors obey it instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from csp.decorators import csp_replace
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers
from django.views.decorators.clickjacking import xframe_options_exempt

from tenants.models import Portal
from tenants.viewer import find_viewer

# A host name with an optional port: a portal's domain as the platform names it. Anything else (a stray `;`,
# a space, a quote) could end the directive and start another, so it is never put in the header.
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?")


def portal_origin(portal: Portal | None) -> str | None:
    """`https://<the portal's domain>`, or None where there is no portal or its domain is not a host name."""
    if portal is None:
        return None
    domain = portal.domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    return f"https://{domain}" if _HOST.fullmatch(domain) else None


def frame_ancestors(portal: Portal | None) -> list[str]:
    """The sources that may frame a portal page: the setting's, then the portal's own address if known."""
    sources = list(settings.TENANTS_FRAME_ANCESTORS)
    origin = portal_origin(portal)
    if origin is not None and origin not in sources:
        sources.append(origin)
    return sources


_SHOWN_PORTAL_ATTR = "_tenants_framed_portal"


def frame_for_portal(request: HttpRequest, portal: Portal) -> None:
    """Names the portal a page shows to no viewer (the one just uninstalled): its Bitrix24 may frame it."""
    setattr(request, _SHOWN_PORTAL_ATTR, portal)


def _viewer_portal(request: HttpRequest) -> Portal | None:
    viewer = find_viewer(request)
    return viewer.portal() if viewer is not None else None


def frameable_by_portal(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Marks a portal-facing view: its answers, error pages included, may be framed by the portal's Bitrix24,
    and are never cached.

    The portal is the viewer's after the view ran (a gateway visit the view just verified), else the one the
    view named (frame_for_portal), else the viewer's before it (an uninstall forgets the viewer).
    """

    @wraps(view)
    def framed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        before = _viewer_portal(request)
        response = view(request, *args, **kwargs)
        # One viewer's page (their portal's settings, the form's CSRF token): no cache may keep it past the
        # viewer's rights, a shared one or the browser's own (Back after an uninstall).
        add_never_cache_headers(response)
        sources = frame_ancestors(
            _viewer_portal(request) or getattr(request, _SHOWN_PORTAL_ATTR, None) or before
        )
        # django-csp's own way to change one view's policy; built per answer, as the portal differs.
        return csp_replace({"frame-ancestors": sources})(lambda _request: response)(request)

    framed.frameable_by_portal = True  # type: ignore[attr-defined]  # is_frameable reads it
    return xframe_options_exempt(framed)


def is_frameable(path_info: str) -> bool:
    """Whether the page at `path_info` is one the portal's Bitrix24 may frame (frameable_by_portal)."""
    try:
        match = resolve(path_info)
    except Resolver404:
        return False
    return bool(getattr(match.func, "frameable_by_portal", False))
