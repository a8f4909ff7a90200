"""GET /v1/users: the portal's employees (scope `user`), where a form finds the people to pick from."""

from __future__ import annotations

from collections.abc import Mapping

from botcore.vibe.endpoints.base import SAFE, Endpoints
from botcore.vibe.models import PortalUser

PAGE_SIZE = 500


class UserEndpoints(Endpoints):
    def list_users(self, *, limit: int = 5000) -> list[PortalUser]:
        """Every user of the caller's portal, up to `limit`, read page by page (SAFE)."""
        users: list[PortalUser] = []
        while len(users) < limit:
            page = self._transport.request(
                "GET",
                "/users",
                params={"limit": min(PAGE_SIZE, limit - len(users)), "offset": len(users)},
                retry=SAFE,
            )
            items = [PortalUser.from_payload(item) for item in page or [] if isinstance(item, Mapping)]
            users.extend(items)
            if len(items) < PAGE_SIZE:
                break
        return users
