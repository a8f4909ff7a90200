"""The admin without DRF's own token model: operator API tokens are OperatorToken digests, issued by
`create_operator --api-token` (ops/tokens.py). DRF's "Auth Token" page made tokens that are shown and stored
as sent and that the API never accepts."""

from django.contrib import admin
from rest_framework.authtoken.models import TokenProxy

# Autodiscovery imports this module after rest_framework.authtoken's admin (INSTALLED_APPS order).
if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)
