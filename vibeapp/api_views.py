"""The HTTP APIs' views' common base: the caller's rate (vibeapp/api_rate.py) counted before rights, and
query parameters an operation does not take refused. Its own module: rest_framework.views loads the throttle
classes of the settings, so api_rate cannot import it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

NOT_A_PARAMETER = "not a parameter of this operation"
TAKES_NO_BODY = "this operation takes no body: what it acts on is in its URL"


def refuse_unknown_query_params(
    request: Request, taken: Iterable[str], *, why: str = NOT_A_PARAMETER
) -> None:
    """A 400 naming each query parameter outside `taken`: dropped unsaid, `?portal=2` answered the caller's
    own portal and `?domain=` every portal, to scripts that believed they had asked for one."""
    unknown = sorted(set(request.query_params) - set(taken))
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, why))


def refuse_a_body(request: Request) -> None:
    """A 400 for a body that says anything (malformed JSON a 400, a type no parser reads a 415) to an
    operation that takes none: read by nothing, `{"ids": [1, 2, 3]}` posted to one event's give-up was
    dropped unsaid, and the script believed it had given up three. Nothing is nothing: no body, an empty one,
    `{}`, `[]` and `null`."""
    data = request.data
    if data is None or (isinstance(data, (Mapping, list)) and not data):
        return
    raise ValidationError({"body": TAKES_NO_BODY})


class RateBeforeRights(APIView):
    """A mixin for the API views (listed before the DRF view class): the caller's rate is counted as soon as
    the caller is known, before rights are checked. DRF checks the rights first, so a request refused for
    them (403), or for its credentials (401: a made-up token, counted by address), was never counted: a loop
    of refused requests reached the database past any rate."""

    def perform_authentication(self, request: Request) -> None:
        try:
            super().perform_authentication(request)  # failing, the request is anonymous: counted by address
        finally:
            super().check_throttles(request)  # past the rate, 429 (rather than the 401 it would have been)

    def check_throttles(self, request: Request) -> None:
        """Counted already, with the caller (perform_authentication), before the rights DRF checks next."""
