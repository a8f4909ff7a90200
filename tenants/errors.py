"""The tenants error family: every failure tenants reports, with its data as attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class TenantsError(Exception):
    """Base of everything tenants raises on purpose; `public_message` is safe to show a portal user."""

    public_message: StrOrPromise = _("Something went wrong while connecting your portal.")
    # True when the same request may succeed shortly (the platform busy or unreachable, a turn held): no one
    # refused anything, and the visitor is told to try again (503), never counted as refused.
    is_transient: bool = False
    # Where a transient failure came with the platform's own wait (a 429's retryAfter): seconds.
    retry_after: float | None = None
    # True when the platform refused the app's own key, not the credential being checked: the visitor and
    # their session are fine, and every visitor meets the same refusal until an operator fixes VIBE_APP_KEY.
    refuses_app_key: bool = False

    def __init__(self, message: str, *, public_message: StrOrPromise | None = None) -> None:
        super().__init__(message)
        if public_message:
            self.public_message = public_message


class InstallationError(TenantsError):
    """A visit could not install or refresh a portal: unverified identity, forged headers, bad state.

    `is_transient` is True when the platform could not be asked (unreachable, 5xx, 429), False when it
    answered no."""

    public_message = _(
        "We could not verify who you are. Please open the app again from your Bitrix24 portal."
    )


class PortalNotFoundError(TenantsError):
    public_message = _("This portal has not installed the app.")


class SessionTokenError(TenantsError):
    """No usable credential for a portal: every session expired and no personal key was given.

    Transient: the next portal user to open the app brings a fresh session, and the work waits for it.
    """

    public_message = _("The app needs a portal user to open it again.")
    is_transient = True


class PortalBusyError(TenantsError):
    """Another change of the portal's credentials, or a move of its bot, held the portal's turn for longer
    than this one could wait (tenants.services.portal_turn). Transient: that one ends, and this is tried
    again."""

    public_message = _("The portal's bot is being set up right now. Please try again in a minute.")
    is_transient = True


class SecretDecryptionError(TenantsError):
    """Ciphertext that no configured Fernet key opens (wrong keys, or tampered data)."""
