"""Thin views: the embedded entry (gateway headers), the OAuth redirect, and the portal page."""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _
from django.views import csrf
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_ratelimit.core import is_ratelimited

from tenants import handshakes, oauth, services
from tenants.errors import InstallationError, TenantsError
from tenants.forms import PortalApiKeyForm, PortalSettingsForm, UninstallForm
from tenants.framing import frame_for_portal, frameable_by_portal, is_frameable
from tenants.identity import get_identity_backend
from tenants.models import Portal, PortalApiKey, PortalSettings, SessionGrant
from tenants.selectors import find_best_grant
from tenants.shapes import MALFORMED_CREDENTIALS, is_credential_shaped, is_id_shaped, is_user_id_shaped
from tenants.viewer import Viewer, find_viewer, forget_viewer, remember_viewer, token_digest
from vibeapp import shared_cache
from vibeapp.failure_limits import Slot, give_back, rate_setting, take_slot

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger(__name__)


# How long a visitor is asked to wait after a transient failure where the platform did not say (busy or
# unreachable); its own wait, where it said one, within these bounds.
_RETRY_AFTER_SECONDS = 30
_RETRY_AFTER_BOUNDS = (1, 300)
# The portal this browser's session uninstalled last (its pk), for the result page after the redirect.
UNINSTALLED_SESSION_KEY = "tenants_uninstalled_portal"
# Set where this browser's session removed the portal's key, cleared where it saves one.
KEY_REMOVED_SESSION_KEY = "tenants_removed_api_key"


def render_tenants_error(request: HttpRequest, error: TenantsError, *, status: int = 403) -> HttpResponse:
    """The one place a TenantsError becomes a page: the public message only, never internals. A transient
    error is a 503 with Retry-After whatever `status` says: the request was not wrong, only early; so is a
    refusal of the app's own key (without Retry-After: an operator must fix it)."""
    status = 503 if error.is_transient or error.refuses_app_key else status
    log.warning(
        "tenants request refused path=%s status=%s error=%s transient=%s reason=%r",
        request.path,
        status,
        error.__class__.__name__,
        error.is_transient,
        # The internal message (a forged state, a replayed one, an expired one all have the same public
        # one); repr keeps it one line whatever the platform's message in it holds. Redacted as every line.
        str(error)[:300],
        extra={"status_code": status},  # as Django's own line had it, for JSON logs
    )
    response = render(request, "tenants/error.html", {"message": error.public_message}, status=status)
    # The line above is the request's: Django's own ("Forbidden: /", "Service Unavailable: /") would repeat it
    # naming nothing, and at ERROR for a 503, so each visit during a platform outage paged someone. A refusal
    # of the app's key is an ERROR of its own where it is found (botcore.vibe.identity).
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response's mark
    if error.is_transient:
        low, high = _RETRY_AFTER_BOUNDS
        wait = _RETRY_AFTER_SECONDS if error.retry_after is None else math.ceil(error.retry_after)
        response["Retry-After"] = str(min(high, max(low, wait)))
    return response


def _bearer(value: str) -> str:
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _gateway_headers_are_well_formed(request: HttpRequest, token: str) -> bool:
    user_id = request.headers.get("X-Vibe-User-Id", "")
    portal_id = request.headers.get("X-Vibe-Portal-Id", "")
    return is_credential_shaped(token) and is_user_id_shaped(user_id) and is_id_shaped(portal_id)


def through_entry(request: HttpRequest) -> HttpResponse | None:
    """For a portal page asked for (GET, or HEAD: GET without the body) with the gateway's headers of someone
    this browser's viewer is not (no viewer yet, or another user: a deep link opened in the portal's frame),
    the way through the app's entry, which signs them in, and back to this page; None when the page may
    answer as it is. A browser the entry has just signed in with these headers, back without its cookie, is
    told so instead."""
    token = _bearer(request.headers.get("X-Vibe-Authorization", ""))
    if request.method not in ("GET", "HEAD") or not token:
        return None
    if _viewer_on(request, token) is not None:
        return None
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        entered = shared_cache.read(_entered_key(token), what="a page's check of the entry's sign-ins")
        if entered is True:
            return _cookie_not_kept(request)
    return redirect(f"{reverse('tenants:entry')}?{urlencode({'next': request.get_full_path()})}")


# How long the entry remembers a token it signed a browser in with (by its digest): a page asked for with it
# again without the session cookie comes from a browser that kept no cookie of the app's (blocked inside the
# Bitrix24 frame). Sent to the entry again, it went round between the two until the browser gave up
# (ERR_TOO_MANY_REDIRECTS), each round a sign-in. A browser with a cookie (users switched in it) goes round.
_ENTERED_SECONDS = 30


def _entered_key(token: str) -> str:
    return f"tenants:entered:{token_digest(token)}"


def _cookie_not_kept(request: HttpRequest) -> HttpResponse:
    log.warning(
        "portal page refused: the browser kept no cookie from the entry path=%s status=403",
        request.path,
        extra={"status_code": 403},
    )
    message = _(
        "This page could not be opened: your browser did not keep the app's cookie (browsers may block"
        " cookies inside the Bitrix24 frame). Open the app in a tab of its own, or allow its cookies, and"
        " try again."
    )
    response = render(request, "tenants/error.html", {"message": message}, status=403)
    # The line above names why; Django's own "Forbidden: /portal/" would repeat it naming nothing.
    response._has_been_logged = True  # type: ignore[attr-defined]  # django.utils.log.log_response's mark
    return response


def _viewer_on(request: HttpRequest, token: str) -> Viewer | None:
    """This browser's viewer, when it stands on the gateway's `token` (signed in with it)."""
    viewer = find_viewer(request)
    return viewer if viewer is not None and viewer.token_digest == token_digest(token) else None


def open_from_bitrix(request: HttpRequest) -> HttpResponse:
    """A portal page asked for with no viewer: where the app opens."""
    return render(request, "tenants/open_from_bitrix.html", status=401)


def _landing(request: HttpRequest) -> str:
    """Where the entry sends a viewer: the page `?next=` names when it is one of the portal's own pages (a
    path of this app the portal may frame), else the portal page."""
    wanted = request.GET.get("next", "")
    local = url_has_allowed_host_and_scheme(wanted, allowed_hosts=None) and wanted.startswith("/")
    return wanted if local and is_frameable(urlsplit(wanted).path) else reverse("tenants:portal")


@frameable_by_portal
@require_safe
def app_entry(request: HttpRequest) -> HttpResponse:
    """Where the app opens inside Bitrix24: the gateway's X-Vibe-* headers carry the user's session."""
    token = _bearer(request.headers.get("X-Vibe-Authorization", ""))
    if not token:
        if find_viewer(request):
            return redirect(_landing(request))
        return render(request, "tenants/open_from_bitrix.html")
    if not _gateway_headers_are_well_formed(request, token):
        log.warning("malformed gateway headers refused path=%s", request.path)
        return render(
            request,
            "tenants/error.html",
            {"message": MALFORMED_CREDENTIALS},
            status=400,
        )
    if _viewer_on(request, token) is None:
        # Each sign-in is a new browser session (a row until the token ends), and a new token a GET /v1/me
        # at a reply's priority on the app key every portal shares: counted per person (the claimed portal
        # and user, as the check reads them), only once signed in, so nobody spends another's sign-ins
        # without their token. A token sent again and again without the cookie wrote a row each time.
        # The sign-in is counted before it is made, with the check (visits at the same moment each passed
        # a check made before any was counted), and given back if it is not made.
        person = f"{request.headers['X-Vibe-Portal-Id']}:{request.headers['X-Vibe-User-Id'].strip()}"
        try:
            slot = _take_sign_in(request, person)
        except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down)
            # A token a grant holds still gets in (nothing to ask the platform); a new one is refused
            # below, as no token is checked uncounted.
            log.warning("gateway sign-ins not read (%s)", error.__class__.__name__)
            slot = _UNCOUNTED
        if slot is None:
            log.warning("gateway sign-ins rate-limited path=%s", request.path)
            return _too_many_attempts(request)
        signed_in = False
        try:
            grant = _grant_for_gateway_token(request, token)
            if isinstance(grant, HttpResponse):
                return grant
            remember_viewer(request, grant, token=token)
            signed_in = True
        finally:
            if not signed_in:
                _give_back(slot, what="gateway sign-in")
        # Read by through_entry.
        shared_cache.keep(_entered_key(token), True, _ENTERED_SECONDS, what="the entry's sign-in")
    return redirect(_landing(request))


def _grant_for_gateway_token(request: HttpRequest, token: str) -> SessionGrant | HttpResponse:
    """The grant a gateway visit's token stands on: the one already holding it, else the one the platform
    confirms now; or the page refusing the visit."""
    claim = {
        "session_token": token,
        "claimed_portal_id": request.headers.get("X-Vibe-Portal-Id", ""),
        "claimed_user_id": request.headers.get("X-Vibe-User-Id", ""),
    }
    known = handshakes.grant_holding(**claim)
    if known is not None:
        return known
    # A token no grant holds costs a GET /v1/me on the app key, whose budget every portal's bots share.
    # Refused tokens are counted per client address and, past the rate, not checked at all: made-up tokens
    # cannot spend the budget, and people opening the app (whose tokens pass) are never counted, however
    # many share one address behind the platform's gateway.
    # A token that passes is counted with the person's sign-ins instead (app_entry).
    # Each check is counted as refused before it is made, with the limit's check (checks at the same moment
    # each passed a check made before any was counted), and given back unless the platform says no.
    try:
        slot = _take_token_check(request)
    except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down): no check uncounted
        return _cache_unreachable(request, error, counts="refused-token counts")
    if slot is None:
        log.warning("gateway token check rate-limited path=%s", request.path)
        return _too_many_attempts(request)
    refused = False
    try:
        portal = handshakes.accept_gateway_visit(**claim)
    except TenantsError as error:
        # Only the platform's "no" to the token counts. A check it could not answer (its 429 when the app
        # key's rate is spent, a 5xx, no answer), or its "no" to the app's own key, refused no visitor:
        # counted, either locked out everyone behind the gateway's one address.
        refused = not (error.is_transient or error.refuses_app_key)
        return render_tenants_error(request, error)
    finally:
        if not refused:
            _give_back(slot, what="gateway token check")
    # The service confirmed the header's user id is the token's owner.
    return portal.grants.get(bitrix_user_id=int(claim["claimed_user_id"]))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponseBase:
    """Django's CSRF refusal (CSRF_FAILURE_VIEW). A portal viewer's form on a portal page is refused on a page
    of the portal's, framed as its pages are, saying why: Django's own page may not be framed, and a browser
    that keeps no cookie in the portal's frame saw a blank frame. Anything else gets Django's page (an
    operator's page refuses its frame whoever posts to it)."""
    if find_viewer(request) is None or not is_frameable(request.path_info):
        return csrf.csrf_failure(request, reason)
    return _portal_csrf_failure(request, without_cookie=reason == REASON_NO_CSRF_COOKIE)


@frameable_by_portal
def _portal_csrf_failure(request: HttpRequest, *, without_cookie: bool) -> HttpResponse:
    if without_cookie:
        message = _(
            "This form could not be sent: your browser did not send the app's cookie with it (browsers may"
            " block cookies inside the Bitrix24 frame). Reload the page and try again, or open the app in a"
            " tab of its own."
        )
    else:  # no token, a stale one, or another site's page posting here
        message = _(
            "This form could not be sent: it came without the page's security token, or from another site."
            " Reload the page and try again."
        )
    return render(request, "tenants/error.html", {"message": message}, status=403)


def _take_token_check(request: HttpRequest) -> Slot | None:
    """One of this client address's TENANTS_GATEWAY_VERIFY_RATE refused tokens in the window, taken before
    the platform is asked (given back unless it refuses the token), or None when they have had them all."""
    return take_slot(
        request,
        group="tenants.gateway_refused",
        key="ip",
        rate=rate_setting("TENANTS_GATEWAY_VERIFY_RATE"),
    )


# A sign-in made while the counts could not be reached: nothing to give back.
_UNCOUNTED = Slot(cache_name="", cache_key=None)


def _take_sign_in(request: HttpRequest, person: str) -> Slot | None:
    """One of `person`'s (the claimed portal and user ids) TENANTS_GATEWAY_SIGN_IN_RATE sign-ins in the
    window, or None when they have had them all."""
    return take_slot(
        request,
        group="tenants.gateway_sign_ins",
        key=lambda _group, _request: person,
        rate=rate_setting("TENANTS_GATEWAY_SIGN_IN_RATE"),
    )


def _give_back(slot: Slot, *, what: str) -> None:
    """A slot whose count did not happen: a sign-in not made (the token refused, or an error) counts for
    nobody, so a visitor without the person's token spends none of their sign-ins; a token check the platform
    did not refuse is no refused token."""
    try:
        give_back(slot)
    except Exception as unreachable:  # noqa: BLE001 - the cache client's own family; the visit went on
        log.warning("%s not given back (%s)", what, unreachable.__class__.__name__)


TOO_MANY_KEYS_REFUSED = _(
    "Too many keys were refused for this portal just now. Please wait a while, then try again."
)


def _take_key_check(request: HttpRequest, portal: Portal) -> Slot | None:
    """One of `portal`'s TENANTS_API_KEY_REFUSED_RATE refused personal keys in the window, taken before the
    key is checked (given back unless the platform refuses it), or None when it has had them all. Each key
    typed costs a GET /v1/me, and the request budget keeps rows for each key it meets: an admin posting
    made-up keys in a loop had the platform asked, and the budget's table grown, without end."""
    return take_slot(
        request,
        group="tenants.api_key_refused",
        key=lambda _group, _request: portal.member_id,
        rate=rate_setting("TENANTS_API_KEY_REFUSED_RATE"),
    )


TOO_MANY_KEYS_SAVED = _(
    "Too many keys were saved for this portal just now. Please wait a while, then try again."
)


def _take_key_save(request: HttpRequest, portal: Portal) -> Slot | None:
    """One of `portal`'s TENANTS_API_KEY_SAVED_RATE personal keys saved in the window, taken before the key is
    checked (given back unless it is saved), or None when it has had them all. Each key saved moves the
    portal's bot in a task (its registration, commands, the old bot drained and deleted, the chats notice's
    look-ups: on the app key every portal shares where it moves from or to a session) and costs a GET /v1/me:
    an admin giving a good key and taking it back in a loop moved it without end. Removals are not counted
    (a leaked key is taken back at once, the cache down or not): each needs a key saved before it."""
    return take_slot(
        request,
        group="tenants.api_key_saved",
        key=lambda _group, _request: portal.member_id,
        rate=rate_setting("TENANTS_API_KEY_SAVED_RATE"),
    )


TOO_MANY_SETTINGS_SAVED = _(
    "Too many settings were saved for this portal just now. Please wait a while, then try again."
)
SETTINGS_NOT_SAVED = _("We could not save the settings just now. Please try again shortly.")


def _take_settings_save(request: HttpRequest, portal: Portal) -> Slot | None:
    """One of `portal`'s TENANTS_PORTAL_SETTINGS_SAVED_RATE saves that change its settings in the window,
    or None when it has had them all. A change of the bot's name or language is sent to the platform during
    the request (a PATCH, on the app key every portal shares where the bot runs on it): an admin saving in a
    loop sent one each time. A save that changes nothing is not counted, and asks the platform nothing."""
    return take_slot(
        request,
        group="tenants.portal_settings_saved",
        key=lambda _group, _request: portal.member_id,
        rate=rate_setting("TENANTS_PORTAL_SETTINGS_SAVED_RATE"),
    )


def _save_portal_settings(request: HttpRequest, portal: Portal, form: forms.Form) -> HttpResponse | None:
    """Store the settings form's values, counting the save when it changes any: the redirect to the page,
    or None with the limit's error added to the form's first changed field. Raises TenantsError."""
    changed = services.list_portal_settings_changes(portal, **form.cleaned_data)
    if changed:
        try:
            slot = _take_settings_save(request, portal)
        except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down)
            return _cache_unreachable(
                request, error, counts="portal settings saves", public_message=SETTINGS_NOT_SAVED
            )
        if slot is None:
            log.warning("portal settings saves rate-limited portal=%s", portal.member_id)
            form.add_error(changed[0], TOO_MANY_SETTINGS_SAVED)
            return None
        try:
            services.update_portal_settings(portal, **form.cleaned_data)
        except TenantsError:
            _give_back(slot, what="portal settings save")
            raise
    messages.success(request, _("Saved."))
    return redirect("tenants:portal")


def _too_many_attempts(request: HttpRequest) -> HttpResponse:
    return render(
        request, "tenants/error.html", {"message": _("Too many attempts. Please wait a minute.")}, status=429
    )


KEY_NOT_CHECKED = _("We could not check the key just now. Please try again shortly.")


def _cache_unreachable(
    request: HttpRequest, error: Exception, *, counts: str, public_message: StrOrPromise | None = None
) -> HttpResponse:
    """A limit's counts could not be read (the cache, Redis, down): nothing goes through unchecked, and the
    visitor is told to try again shortly (503, Retry-After), one WARNING and no ERROR. The one answer of
    every limit of tenants' pages (a visit's token check, a sign-in start, a personal key) to a cache down.
    `public_message`: what could not be checked, where it is not who the visitor is."""
    unavailable = InstallationError(
        f"the {counts} cannot be read ({error.__class__.__name__}): the cache is unreachable",
        public_message=public_message
        or _("We could not check who you are just now. Please try again shortly."),
    )
    unavailable.is_transient = True
    return render_tenants_error(request, unavailable)


# The name django-ratelimit's decorator gave this group, kept so counts carry over an upgrade.
OAUTH_START_GROUP = "tenants.views.oauth_start"


@require_safe
def oauth_start(request: HttpRequest) -> HttpResponse:
    """Send an invited visitor to the platform's consent page; the uninvited never see the app key."""
    try:
        limited = is_ratelimited(
            request,
            group=OAUTH_START_GROUP,
            key="ip",
            rate=rate_setting("TENANTS_OAUTH_START_RATE"),
            increment=True,
        )
    except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down)
        return _cache_unreachable(request, error, counts="sign-in starts per address")
    if limited:
        log.warning("oauth start rate-limited path=%s", request.path)
        return _too_many_attempts(request)
    try:
        invited_portal = oauth.check_invite(request.GET.get("invite", ""))
    except TenantsError as error:
        return render_tenants_error(request, error)
    state, pending = oauth.issue_state(request, member_id=invited_portal)
    redirect_uri = request.build_absolute_uri(reverse("tenants:oauth_callback"))
    response = redirect(get_identity_backend().authorize_url(redirect_uri=redirect_uri, state=state))
    oauth.keep_pending(response, pending)
    return response


@require_safe
def oauth_callback(request: HttpRequest) -> HttpResponse:
    try:
        pending, invited_portal = oauth.redeem_state(request, request.GET.get("state", ""))
    except TenantsError as error:
        if isinstance(error, oauth.StateNotPendingError) and find_viewer(request) is not None:
            # Opened again where it signed in (Back, a double click): nothing to exchange, the person is in.
            log.info("oauth callback opened again by a signed-in browser: to the portal page")
            return redirect("tenants:portal")
        return render_tenants_error(request, error)
    try:
        if request.GET.get("error"):
            message = _(
                "Access was not granted, so you are not signed in. To sign in, open your sign-in link again"
                " and choose Allow."
            )
            response = render(request, "tenants/error.html", {"message": message}, status=400)
        else:
            grant = handshakes.accept_oauth_code(
                code=request.GET.get("code", ""),
                state=request.GET.get("state", ""),
                redirect_uri=request.build_absolute_uri(reverse("tenants:oauth_callback")),
                invited_portal=invited_portal,
            )
            remember_viewer(request, grant, token=None)
            response = redirect("tenants:portal")
    except TenantsError as error:
        response = render_tenants_error(request, error)
        if error.is_transient:
            # Nobody refused anything, and the 503's Retry-After asks for this very callback again: the
            # browser keeps the state pending (its own cookie, unchanged) until an answer or its lifetime.
            return response
    oauth.keep_pending(response, pending)  # the redeemed state is spent by an answer, whatever it was
    return response


def _viewer_portal(request: HttpRequest) -> tuple[Viewer | None, Portal | None]:
    viewer = find_viewer(request)
    portal = viewer.portal() if viewer else None
    return viewer, portal


def _known_zone(name: str) -> str:
    """`name` if this host's (or the app's own, tzdata) zone database knows it, else UTC."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def _extra_sections(request: HttpRequest, portal: Portal, viewer: Viewer) -> list[dict[str, Any]]:
    """Cards other apps add to the portal page: TENANTS_PORTAL_SECTIONS lists dotted paths of callables
    (request=, portal=, viewer=) -> [{"template": …, …}]; tenants imports them by name, never by module."""
    sections: list[dict[str, Any]] = []
    for path in getattr(settings, "TENANTS_PORTAL_SECTIONS", []):
        sections.extend(import_string(path)(request=request, portal=portal, viewer=viewer))
    return sections


@frameable_by_portal
@require_http_methods(["GET", "HEAD", "POST"])
def portal_page(request: HttpRequest) -> HttpResponse:
    """The portal's page: status for everyone; settings, personal key and uninstall for admins."""
    if (entry := through_entry(request)) is not None:
        return entry
    viewer, portal = _viewer_portal(request)
    if viewer is None or portal is None:
        return open_from_bitrix(request)
    settings_form: forms.Form | None = None
    key_form: forms.Form | None = None
    if request.method == "POST":
        if not viewer.is_admin:
            return render(
                request,
                "tenants/error.html",
                {"message": _("Only a portal administrator can change settings.")},
                status=403,
            )
        action = request.POST.get("action")
        try:
            if action == "settings":
                settings_form = PortalSettingsForm(request.POST)
                if settings_form.is_valid():
                    answer = _save_portal_settings(request, portal, settings_form)
                    if answer is not None:
                        return answer
            elif action == "api_key":
                key_form = PortalApiKeyForm(request.POST)
                saving: Slot | None = None
                try:
                    saving = _take_key_save(request, portal) if key_form.is_valid() else None
                    slot = _take_key_check(request, portal) if saving is not None else None
                except Exception as error:  # noqa: BLE001 - the cache client's own family (Redis down)
                    if saving is not None:
                        _give_back(saving, what="personal key save")
                    return _cache_unreachable(
                        request, error, counts="refused personal keys", public_message=KEY_NOT_CHECKED
                    )
                if key_form.is_valid() and saving is None:
                    log.warning("personal key saves rate-limited portal=%s", portal.member_id)
                    key_form.add_error("api_key", TOO_MANY_KEYS_SAVED)
                elif saving is not None and slot is None:
                    log.warning("personal key check rate-limited portal=%s", portal.member_id)
                    key_form.add_error("api_key", TOO_MANY_KEYS_REFUSED)
                    _give_back(saving, what="personal key save")
                elif saving is not None and slot is not None:
                    refused = saved = False
                    try:
                        services.set_portal_api_key(
                            portal,
                            api_key=key_form.cleaned_data["api_key"],
                            added_by_user_id=viewer.bitrix_user_id,
                        )
                        saved = True
                    except TenantsError as error:
                        refused = not error.is_transient  # the platform could not answer: nothing was refused
                        key_form.add_error(
                            "api_key", error.public_message
                        )  # shown at the key, not as a dead end
                    else:
                        request.session.pop(KEY_REMOVED_SESSION_KEY, None)
                        messages.success(request, _("Key saved."))
                        return redirect("tenants:portal")
                    finally:
                        if not refused:
                            _give_back(slot, what="personal key check")
                        if not saved:
                            _give_back(saving, what="personal key save")
            elif action == "remove_api_key":
                if request.POST.get("confirm_remove") != "yes":  # it moves the bot out of its group chats
                    messages.error(request, _("Tick the box to remove the key."))
                elif services.remove_portal_api_key(portal):
                    request.session[KEY_REMOVED_SESSION_KEY] = True
                    messages.success(request, _("Key removed."))
                elif request.session.get(KEY_REMOVED_SESSION_KEY):
                    # The form again from the browser that removed the key (a double click: the browser
                    # shows the second answer), which said "There was no key to remove." to its remover.
                    messages.success(request, _("Key removed."))
                else:
                    messages.info(request, _("There was no key to remove."))
                return redirect("tenants:portal")
        except TenantsError as error:
            return render_tenants_error(request, error, status=400)
    return _render_portal(request, viewer, portal, settings_form=settings_form, key_form=key_form)


def _render_portal(
    request: HttpRequest,
    viewer: Viewer,
    portal: Portal,
    *,
    settings_form: forms.Form | None = None,
    key_form: forms.Form | None = None,
    uninstall_form: forms.Form | None = None,
) -> HttpResponse:
    """The portal page, with any form given as posted (its errors at its fields; the answer is then 400)."""
    prefs, _created = PortalSettings.objects.get_or_create(portal=portal)
    if settings_form is None:
        settings_form = PortalSettingsForm(
            initial={"language": prefs.language, "timezone": prefs.timezone, "bot_name": prefs.bot_name}
        )
    forms_shown = {
        "settings_form": settings_form,
        "key_form": key_form or PortalApiKeyForm(),
        "uninstall_form": uninstall_form or UninstallForm(domain=portal.domain),
    }
    context = {
        "viewer": viewer,
        "portal": portal,
        "grant": find_best_grant(portal),
        # Times on the page are on the portal's clock, as its admin set it (a zone this host lacks: UTC).
        "portal_zone": _known_zone(prefs.timezone),
        "api_key": PortalApiKey.objects.filter(portal=portal).first(),
        **forms_shown,
        "extra_sections": _extra_sections(request, portal, viewer),
    }
    has_errors = False
    for form in forms_shown.values():
        if form.is_bound and form.errors:
            has_errors = True
            _focus_first_error(form)
            context["error_links"] = _error_links(form)
    return render(request, "tenants/portal.html", context, status=400 if has_errors else 200)


def _error_links(form: forms.Form) -> list[dict[str, str]]:
    """The form's mistakes for the summary at the page's top (templates/base.html), each naming its field."""
    return [
        {
            "id": form[name].id_for_label,
            "label": str(form.fields[name].label),
            "message": " ".join(str(error) for error in errors),
        }
        for name, errors in form.errors.items()
        if name in form.fields
    ]


def _focus_first_error(form: forms.Form) -> None:
    """The form's first invalid field takes the focus, as a skill page's does: the page came back at its
    top, silent, with the mistake screens below (the uninstall confirmation is the page's last field)."""
    for name in form.errors:
        if name in form.fields:
            form.fields[name].widget.attrs["autofocus"] = True
            return


@frameable_by_portal
@require_POST
def uninstall(request: HttpRequest) -> HttpResponse:
    viewer, portal = _viewer_portal(request)
    if viewer is None and request.session.get(UNINSTALLED_SESSION_KEY) is not None:
        # The form again from the browser that has just uninstalled (a double click; the first answer is
        # dropped by the browser): its result, not "Only a portal administrator can uninstall the app."
        return redirect("tenants:uninstalled")
    if viewer is None or portal is None or not viewer.is_admin:
        return render(
            request,
            "tenants/error.html",
            {"message": _("Only a portal administrator can uninstall the app.")},
            status=403,
        )
    form = UninstallForm(request.POST, domain=portal.domain)
    if not form.is_valid():  # back on the portal page, the mistake said at the field
        return _render_portal(request, viewer, portal, uninstall_form=form)
    services.uninstall_portal(portal, reason="admin")
    forget_viewer(request)
    # A redirect to the result, not the result itself: reloading the page posted the form again.
    request.session[UNINSTALLED_SESSION_KEY] = portal.pk
    return redirect("tenants:uninstalled")


@frameable_by_portal
@require_safe
def uninstalled(request: HttpRequest) -> HttpResponse:
    """What an uninstall from this browser did; nothing where this browser uninstalled nothing."""
    portal_pk = request.session.get(UNINSTALLED_SESSION_KEY)
    portal = None
    if isinstance(portal_pk, int):
        portal = Portal.objects.filter(pk=portal_pk, status=Portal.Status.UNINSTALLED).first()
    if portal is None:
        return render(
            request,
            "tenants/error.html",
            {"message": _("Nothing was uninstalled in this browser.")},
            status=404,
        )
    frame_for_portal(request, portal)
    return render(request, "tenants/uninstalled.html", {"portal": portal})
