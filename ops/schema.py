"""What drf-spectacular cannot guess: how the portal skills API authenticates (the app's session cookie)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PortalViewerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "botcore.web.api.PortalViewerAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
