"""GET /v1/users: the portal's employees (scope `user`), where a form finds the people to pick from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botcore.vibe.endpoints.base import SAFE, Endpoints
from botcore.vibe.errors import VibeProtocolError
from botcore.vibe.models import PortalUser
from botcore.vibe.parse import json_kind

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
            items = [PortalUser.from_payload(item) for item in users_listed(page)]
            new = [user for user in items if user.id not in seen]
            if not new:
                break
            seen.update(user.id for user in new)
            users.extend(new[: limit - len(users)])
        return users


def users_listed(page: Any) -> list[Mapping[str, Any]]:
    """The user objects of one page's `data`: a list of them; nothing (null, an empty list or object) is an
    empty page. Anything else is no directory at all (a proxy's or a broken server's envelope around a list
    of strings): VibeProtocolError, a passing trouble. Read as an empty page, it was a portal with nobody in
    it, and a skill told the person that nobody there had the names they gave."""
    if page is None or page == [] or page == {}:
        return []
    if isinstance(page, list) and all(isinstance(item, Mapping) for item in page):
        return page
    raise VibeProtocolError(
        status=200,
        code=None,
        message=f"HTTP 200 whose data is {json_kind(page)}, not a list of the portal's users",
        method="GET",
        path="/users",
    )
