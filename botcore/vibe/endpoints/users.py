"""GET /v1/users: the portal's employees (scope `user`), where a form finds the people to pick from."""

from __future__ import annotations

from collections.abc import Mapping

from botcore.vibe.endpoints.base import SAFE, Endpoints
from botcore.vibe.models import PortalUser

PAGE_SIZE = 500


class UserEndpoints(Endpoints):
    def list_users(self, *, limit: int = 5000) -> list[PortalUser]:
        """Every user of the caller's portal, up to `limit`, read page by page (SAFE).

        A page shorter than asked is not taken for the last: a platform may cap its pages below `limit`
        (50, as Bitrix24's own lists do), and the users past the first page were missing from every picker.
        The listing ends at an empty page, or one that brings no user not seen (a platform ignoring
        `offset`)."""
        users: list[PortalUser] = []
        seen: set[int] = set()
        while len(users) < limit:
            page = self._transport.request(
                "GET",
                "/users",
                params={"limit": min(PAGE_SIZE, limit - len(users)), "offset": len(users)},
                retry=SAFE,
            )
            # Anything but a list holds no users (iterated, a `true` raised TypeError out of the listing).
            listed = page if isinstance(page, list) else []
            items = [PortalUser.from_payload(item) for item in listed if isinstance(item, Mapping)]
            new = [user for user in items if user.id not in seen]
            if not new:
                break
            seen.update(user.id for user in new)
            users.extend(new[: limit - len(users)])
        return users
