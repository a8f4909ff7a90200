"""What tenants announces to the rest of the project; Signal objects only, receivers live elsewhere."""

from django.dispatch import Signal

# sender=Portal class; kwargs: portal
portal_installed = Signal()
# Sent before an uninstall destroys the secrets, so the bot can still be unregistered; kwargs: portal, reason
portal_uninstalling = Signal()
# kwargs: portal (already marked uninstalled, secrets destroyed), reason ("admin" | "bot_deleted" | …)
portal_uninstalled = Signal()
# A fresh session token arrived for a portal that needed one; kwargs: portal
portal_session_restored = Signal()
# A portal user's session token was verified (with the app's current key) and stored, at any visit that
# asked the platform; kwargs: portal
portal_session_stored = Signal()
# The portal has no usable credential left; kwargs: portal
portal_session_lost = Signal()
# The portal's last usable token expires soon; kwargs: portal, expires_at, admin_user_ids, open_url, and
# warned_at (the portal's expiry_warned_at stamp for this warning: a receiver that could not deliver it for a
# passing reason hands it back with services.expiry_warning_undelivered) and occasion (what makes two
# warnings one: the token's expiry for the sweep's, each operator's reminder its own)
portal_session_expiring = Signal()
# The portal's personal key was given, removed or refused, so its preferred credential may have changed;
# sent after the commit; kwargs: portal
portal_credentials_changed = Signal()
# Sent before a personal key is removed or replaced by another, while it still works (a bot registered
# under it can still be drained and unregistered); kwargs: portal
portal_api_key_removing = Signal()
# The portal's admin changed its settings (bot name, language, time zone); kwargs: portal, changed (the
# names of the settings whose value changed, a frozenset; a save that changes none sends nothing)
portal_settings_changed = Signal()
