"""Portals (tenants), their encrypted session tokens, install and uninstall; never imports botcore."""
