"""Which pages the portal's Bitrix24 may show in its frame: the one decorator that says so, and the sources.

Bitrix24 opens the app inside the portal's own page, in an iframe (CONTRACT B §5.2), so a portal-facing page
must let the portal's Bitrix24 frame it; every other page (the admin, the fleet page, the operator API,
/metrics, the schema) keeps the settings' `frame-ancestors 'none'` and `X-Frame-Options: DENY`. A portal page
names its framers in its Content-Security-Policy: once the viewer is known, only the portal they entered
through (frame_ancestors says why); before, TENANTS_FRAME_ANCESTORS (the Bitrix24 cloud zones by default).
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
from tenants.viewer import Viewer, find_viewer

# A host name with an optional port: a portal's domain as the platform names it. Anything else (a stray `;`,
# a space, a quote) could end the directive and start another, so it is never put in the header.
_HOST = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?")


def host_origin(domain: str) -> str | None:
    """`https://<domain>`, or None where `domain` is not a host name (it never reaches the header then)."""
    # A trailing dot (the fully qualified form) names the same host; the browser's origin has none.
    domain = domain.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/").rstrip(".")
    if not domain.isascii():
        # A domain of its own in another script (црм.компания.рф): the header holds ASCII only, and the
        # browser matches the frame's origin in its punycode form.
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    return f"https://{domain}" if _HOST.fullmatch(domain) else None


def portal_origin(portal: Portal | None) -> str | None:
    """`https://<the portal's domain>`, or None where there is no portal or its domain is not a host name."""
    return host_origin(portal.domain) if portal is not None else None


def frame_ancestors(*, viewer: Viewer | None, portal: Portal | None = None) -> list[str]:
    """The sources that may frame a portal page.

    A viewer's page (their settings, "Remove key", skill switches, under their session cookie, which is
    SameSite=None in production as the portal frames it from another site): only the domain they entered
    through and their portal's own, each as the platform named it; a cloud zone would let any Bitrix24
    portal, an attacker's own, frame it and have them click. Without a viewer (nobody signed in yet, a
    refused entry, the page after an uninstall): TENANTS_FRAME_ANCESTORS, the cloud zones, and `portal`'s own
    address if one is shown. TENANTS_SHARED_FRAME_ANCESTORS (the sandbox's page in development) on both."""
    if viewer is not None:
        named = [host_origin(viewer.entry_domain), portal_origin(viewer.portal())]
    else:
        named = [*settings.TENANTS_FRAME_ANCESTORS, portal_origin(portal)]
    sources: list[str] = []
    for source in [*named, *settings.TENANTS_SHARED_FRAME_ANCESTORS]:
        if source is not None and source not in sources:
            sources.append(source)
    # An empty list would drop the directive, and the page, exempt from X-Frame-Options, be framed by anyone.
    return sources or ["'none'"]


_SHOWN_PORTAL_ATTR = "_tenants_framed_portal"


def frame_for_portal(request: HttpRequest, portal: Portal) -> None:
    """Names the portal a page shows to no viewer (the one just uninstalled): its Bitrix24 may frame it."""
    setattr(request, _SHOWN_PORTAL_ATTR, portal)


def frameable_by_portal(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Marks a portal-facing view: its answers, error pages included, may be framed by the portal's Bitrix24,
    and are never cached.

    The viewer is the one after the view ran (a gateway visit the view just verified), else the portal the
    view named (frame_for_portal) for no viewer, else the viewer before it (an uninstall forgets the viewer).
    """

    @wraps(view)
    def framed(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        before = find_viewer(request)
        response = view(request, *args, **kwargs)
        # One viewer's page (their portal's settings, the form's CSRF token): no cache may keep it past the
        # viewer's rights, a shared one or the browser's own (Back after an uninstall).
        add_never_cache_headers(response)
        viewer = find_viewer(request)
        shown = getattr(request, _SHOWN_PORTAL_ATTR, None)
        if viewer is None and shown is None:
            viewer = before
        sources = frame_ancestors(viewer=viewer, portal=shown)
        # django-csp's own way to change one view's policy; built per answer, as the viewer differs.
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
