"""The operator API (staff with the admin's rights, ops/api_rights.py; DRF token or admin session): portals,
bots and the event log, read; the portal actions of the admin (remind, re-verify, uninstall) and pausing or
resuming a bot; replaying a failed event, or giving up a waiting one.

    GET  /api/ops/                               where each of these is (and the OpenAPI schema)
    GET  /api/ops/fleet/                         the dashboard's figures
    GET  /api/ops/portals/[?status=]             POST /api/ops/portals/{id}/remind|reverify|uninstall/
    GET  /api/ops/bots/[?status=&portal=]        POST /api/ops/bots/{id}/pause|resume/
    GET  /api/ops/events/[?status=&event_type=&bot=&cursor=]  POST /api/ops/events/{id}/replay|give-up/
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import TYPE_CHECKING

from django.db.models import Choices, Model
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, routers, viewsets
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from botcore.models import Bot, EventLogEntry
from botcore.services import bots as bot_services
from botcore.services.eventlog import give_up_entries, replay_entries
from ops.api_rights import OperatorRights
from ops.fleet import FLEET_MODELS, gather_fleet
from ops.serializers import (
    ActionResultSerializer,
    BotSerializer,
    DetailSerializer,
    EventDetailSerializer,
    EventSerializer,
    FleetSerializer,
    PortalSerializer,
)
from ops.tokens import OperatorTokenAuthentication
from tenants import operations
from tenants.models import Portal
from tenants.selectors import annotate_credentials
from vibeapp.api_views import NOT_A_PARAMETER, RateBeforeRights, refuse_a_body, refuse_unknown_query_params

if TYPE_CHECKING:
    from rest_framework.permissions import _PermissionClass  # the stubs' name for what DRF accepts

_ID = re.compile(r"[0-9]{1,18}")
# An id in the schema, as _ID takes it (a 19-digit one is a 400 naming it).
_ID_SCHEMA = {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}


class OperatorAccess(RateBeforeRights):
    authentication_classes: Sequence[type[BaseAuthentication]] = [
        OperatorTokenAuthentication,
        SessionAuthentication,
    ]
    permission_classes: Sequence[_PermissionClass] = [OperatorRights]
    lookup_value_regex = _ID.pattern
    # What OperatorRights checks: the models a request reads or acts on, and the right each action takes (the
    # one its admin action names).
    rights_models: tuple[type[Model], ...] = ()
    action_rights: Mapping[str, str] = {}

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # the caller, its rate and its rights first
        if request.method == "POST":
            refuse_a_body(request)  # each action acts on its URL's object alone


class Page(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500
    # Query parameters a list takes besides its filters: the page's, and DRF's format suffix.
    query_params: tuple[str, ...] = ("limit", "offset", "format")
    # The least whole number each takes, in the API and in the schema.
    least = {"limit": 1, "offset": 0}

    def get_limit(self, request):
        """The page size asked for (above max_limit: max_limit). DRF read `abc`, `0` and `-1` as the
        default, so a script's typo went unnoticed (an integrator's trial): a 400 naming it, as for an
        unknown filter."""
        _whole_number(request, self.limit_query_param, least=self.least["limit"])
        return super().get_limit(request)

    def get_offset(self, request):
        _whole_number(request, self.offset_query_param, least=self.least["offset"])
        return super().get_offset(request)

    def get_schema_operation_parameters(self, view):
        return _bounded(super().get_schema_operation_parameters(view), self.least)


def _bounded(parameters: list[dict], least: Mapping[str, int]) -> list[dict]:
    """The schema's parameters with the least value the API takes of each named in `least`: a client
    generated from `{"type": "integer"}` sent `limit=0` and met a 400 (an integrator's trial)."""
    return [
        {**parameter, "schema": {**parameter["schema"], "minimum": least[parameter["name"]]}}
        if parameter["name"] in least
        else parameter
        for parameter in parameters
    ]


def _whole_number(request: Request, name: str, *, least: int) -> None:
    """A 400 naming `name` when the query gives it as anything but a whole number from `least`."""
    asked = request.query_params.get(name)
    if asked is not None and not (asked.isascii() and asked.isdigit() and int(asked) >= least):
        raise ValidationError({name: f"must be a whole number from {least}"})


class EventPage(Page):
    """The event log's offset pages (deprecated: EventCursorPage), newest first, kept to the events there
    when the listing began: `until` (an event id) bounds them, and `next` and `previous` carry the bound the
    first page took. Unbounded, each event arriving between two pages pushed the older ones a place down the
    offsets (an integrator's trial: 1,337 of 5,319 rows twice while 1,500 arrived). A deep offset reads
    every row before it: `?offset=400000` took 2.1 s on PostgreSQL (benchmarks/operator_views.py)."""

    until_query_param = "until"
    query_params = (*Page.query_params, until_query_param)

    def paginate_queryset(self, queryset, request, view=None):
        until = request.query_params.get(self.until_query_param)
        if until and not _ID.fullmatch(until):
            raise ValidationError({self.until_query_param: "must be an id (digits)"})
        newest = EventLogEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
        self.until = int(until) if until else newest
        if self.until is not None:
            queryset = queryset.filter(pk__lte=self.until)
        return super().paginate_queryset(queryset, request, view)

    def _bounded(self, link: str | None) -> str | None:
        return link and replace_query_param(link, self.until_query_param, self.until)

    def get_next_link(self) -> str | None:
        return self._bounded(super().get_next_link())

    def get_previous_link(self) -> str | None:
        return self._bounded(super().get_previous_link())


class EventCursorPage(CursorPagination):
    """The event log's pages, newest first, each `next` an opaque cursor: the received time of the last row
    shown (DRF's CursorPagination). A page reads only its own rows by the (status,) received_at index,
    however deep; a row that joins or leaves the list between two pages (new events, a `?status=failed`
    event replayed) moves none of the others, so following `next` skips nothing and repeats nothing. No
    `count`: counting the log was a scan of it. `offset` or `until` asks for the offset pages (EventPage),
    kept for the scripts written for them and deprecated in the schema."""

    ordering = ("-received_at", "-pk")
    page_size = Page.default_limit
    page_size_query_param = "limit"
    max_page_size = Page.max_limit
    query_params = ("cursor", "limit", "format")

    def get_page_size(self, request):
        _whole_number(request, self.page_size_query_param, least=Page.least["limit"])
        return super().get_page_size(request)

    def decode_cursor(self, request):
        """DRF's cursor, whose position must be a received time as DRF writes one (with its offset, and one
        that stays a time in UTC): DRF compared any text with received_at, and a position that was no time (a
        truncated or hand-made cursor) was a 500, the cursor written whole into the ERROR log (an
        integrator's trial). Refused as DRF refuses any other invalid cursor."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        try:
            position = parse_datetime(str(cursor.position))  # text as decoded (the stubs say int)
            if position is None or position.tzinfo is None:
                raise ValueError(cursor.position)
            position.astimezone(UTC)  # year 1 at +05:00 is no time in UTC (SQLite's comparison)
        except (ValueError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        deprecated = [
            {
                "name": name,
                "required": False,
                "in": "query",
                "deprecated": True,
                "description": f"offset pages (with `count`), deprecated for `cursor`: {description}",
                "schema": schema,
            }
            for name, description, schema in (
                ("offset", "the first row's place, newest first", {"type": "integer"}),
                (
                    "until",
                    "only events up to this id: the bound the first offset page's next link carries",
                    _ID_SCHEMA,
                ),
            )
        ]
        return _bounded([*super().get_schema_operation_parameters(view), *deprecated], Page.least)


def _filter(
    queryset,
    request: Request,
    *,
    text: tuple[str, ...] = (),
    ids: tuple[str, ...] = (),
    paging: tuple[str, ...] = Page.query_params,
    listing: bool = True,
):
    """Exact filters from the query string. A 400 names what is wrong: a parameter this list does not take
    (an outside trial's `?domain=` returned every portal), one given twice, a malformed id, a value outside a
    field's choices (a status that no row can have); an event type nobody has sent matches nothing.

    Not `listing` (one row's page, an action on it), none but DRF's `format`: the list's filters there
    answered 404 for a row they left out (`/api/ops/portals/1/?status=uninstalled`, portal 1 active)."""
    if not listing:
        text, ids, paging = (), (), ("format",)
    why = f"not a filter of this list (it takes {', '.join(text + ids)})" if listing else NOT_A_PARAMETER
    refuse_unknown_query_params(request, {*text, *ids, *paging}, why=why)
    # Django's QueryDict answers the last of a repeated name: `?status=failed&status=handled` listed only the
    # handled events, the failed ones dropped unsaid.
    repeated = sorted(name for name in request.query_params if len(request.query_params.getlist(name)) > 1)
    if repeated:
        raise ValidationError(dict.fromkeys(repeated, "give it once (one value a request)"))
    for name in (*text, *ids):
        value = request.query_params.get(name)
        if not value:
            continue
        if name in ids and not _ID.fullmatch(value):
            raise ValidationError({name: "must be an id (digits)"})
        if (
            "\x00" in value or len(value) > 200
        ):  # PostgreSQL refuses NUL in text; no status or type is that long
            raise ValidationError({name: "not a valid value"})
        choices = [str(choice) for choice, _label in queryset.model._meta.get_field(name).choices or ()]
        if choices and value not in choices:
            raise ValidationError({name: f"one of {', '.join(choices)}"})
        queryset = queryset.filter(**{name: value})
    return queryset


def _id_param(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, _ID_SCHEMA, description=description, required=False)


def _str_param(name: str, description: str, *, choices: type[Choices] | None = None) -> OpenApiParameter:
    """A text filter; `choices`: the field's, listed as the schema's enum (the 400 names them too)."""
    enum = [str(value) for value in choices.values] if choices else None
    return OpenApiParameter(name, str, description=description, required=False, enum=enum)


class OperatorRootView(OperatorAccess, routers.APIRootView):
    """GET /api/ops/: the address of each part of the API, as DRF's router root lists its viewsets (and the
    fleet and the schema, which no router holds). Left out of the schema itself, as DRF's root is."""

    api_root_dict = {
        "fleet": "ops-fleet",
        "portals": "ops-portal-list",
        "bots": "ops-bot-list",
        "events": "ops-event-list",
        "schema": "schema",
    }


class FleetView(OperatorAccess, APIView):
    rights_models = FLEET_MODELS

    @extend_schema(responses=FleetSerializer, summary="The fleet at a glance")
    def get(self, request: Request) -> Response:
        return Response(FleetSerializer(gather_fleet()).data)


@extend_schema_view(
    list=extend_schema(parameters=[_str_param("status", "portal status", choices=Portal.Status)])
)
class PortalViewSet(OperatorAccess, viewsets.ReadOnlyModelViewSet):
    serializer_class = PortalSerializer
    pagination_class = Page
    rights_models = (Portal,)
    action_rights = {"remind": "change", "reverify": "change", "uninstall": "change"}

    def get_queryset(self):
        portals = annotate_credentials(Portal.objects.order_by("pk"))
        return _filter(portals, self.request, text=("status",), listing=self.action == "list")

    def _act(self, request: Request, run) -> Response:
        result = run(self.get_object(), operator=request.user.get_username())
        return Response(ActionResultSerializer(result).data, status=200 if result.ok else 409)

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    def remind(self, request: Request, pk=None) -> Response:
        return self._act(request, operations.send_renewal_reminder)

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    def reverify(self, request: Request, pk=None) -> Response:
        return self._act(request, operations.reverify_session)

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    def uninstall(self, request: Request, pk=None) -> Response:
        return self._act(request, operations.uninstall_for_operator)


class RetiredBot(APIException):
    status_code = 409
    default_code = "bot_retired"


class ProvisioningQueued(APIException):
    status_code = 409
    default_code = "provisioning_queued"


class WaitsForSession(APIException):
    status_code = 409
    default_code = "waits_for_session"


def _refuse_if_retired(bot: Bot) -> None:
    """409 with the reason when an operator's action cannot apply to `bot` (it did nothing before: 200)."""
    refusal = bot_services.operator_action_refusal(bot)
    if refusal is not None:
        raise RetiredBot(refusal)


@extend_schema_view(
    list=extend_schema(
        parameters=[_str_param("status", "bot status", choices=Bot.Status), _id_param("portal", "portal id")]
    )
)
class BotViewSet(OperatorAccess, viewsets.ReadOnlyModelViewSet):
    serializer_class = BotSerializer
    pagination_class = Page
    rights_models = (Bot,)
    action_rights = {"pause": "change", "resume": "change", "reprovision": "change"}

    def get_queryset(self):
        return _filter(
            Bot.objects.select_related("portal").order_by("pk"),
            self.request,
            text=("status",),
            ids=("portal",),
            listing=self.action == "list",
        )

    @extend_schema(request=None, responses={200: BotSerializer, 409: DetailSerializer})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        _refuse_if_retired(bot)
        bot_services.pause_bot(bot, operator=request.user.get_username())
        return Response(BotSerializer(self.get_queryset().get(pk=bot.pk)).data)

    @extend_schema(request=None, responses={200: BotSerializer, 409: DetailSerializer})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        _refuse_if_retired(bot)
        bot_services.resume_bot(bot, operator=request.user.get_username())
        return Response(BotSerializer(self.get_queryset().get(pk=bot.pk)).data)

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: DetailSerializer})
    @action(detail=True, methods=["post"])
    def reprovision(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        _refuse_if_retired(bot)
        waits = bot_services.reprovision_refusal(bot, operator=request.user.get_username())
        if waits is not None:
            raise WaitsForSession(waits)
        if not bot_services.reprovision_bot(bot, operator=request.user.get_username()):
            raise ProvisioningQueued(
                f"{bot.portal.domain}: a provisioning of this bot is already queued or running"
            )
        return Response({"ok": True, "message": f"re-provisioning {bot.portal.domain} in the background"})


@extend_schema_view(
    list=extend_schema(
        parameters=[
            _str_param("status", "event status", choices=EventLogEntry.Status),
            _str_param("event_type", "platform event type"),
            _id_param("bot", "bot id"),
        ]
    )
)
class EventViewSet(OperatorAccess, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = EventCursorPage
    rights_models = (EventLogEntry,)  # payloads hold the users' message texts
    # A replay posts to portals' chats: the admin's own right for it (botcore.replay_eventlogentry), which its
    # *Give up on waiting events* takes too.
    action_rights = {"replay": "replay", "give_up": "replay"}
    paging_params = (*EventCursorPage.query_params, *EventPage.query_params)

    @property
    def paginator(self):
        """The cursor's pages, or the deprecated offset pages for a request naming `offset` or `until`."""
        if not hasattr(self, "_paginator"):
            asked = getattr(self, "request", None)
            offset_params = {EventPage.offset_query_param, EventPage.until_query_param}
            by_offset = asked is not None and not offset_params.isdisjoint(asked.query_params)
            self._paginator = EventPage() if by_offset else EventCursorPage()
        return self._paginator

    def get_serializer_class(self):
        return EventDetailSerializer if self.action == "retrieve" else EventSerializer

    def get_queryset(self):
        query = EventLogEntry.objects.order_by("-received_at", "-pk")
        return _filter(
            query,
            self.request,
            text=("status", "event_type"),
            ids=("bot",),
            paging=self.paging_params,
            listing=self.action == "list",
        )

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: ActionResultSerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request: Request, pk=None) -> Response:
        """Handle a failed event again on its bot's next cycle, as the admin's replay does (409 saying why
        for any other: one already replayed waits for its handler)."""
        entry = self.get_object()
        done = replay_entries(EventLogEntry.objects.filter(pk=entry.pk), operator=request.user.get_username())
        if done.replayed:
            return Response({"ok": True, "message": "will be handled again on its bot's next cycle"})
        if done.retired:
            why = "its bot is retired (the portal uninstalled the app): no cycle of it will come"
        elif done.malformed:
            why = "malformed: its payload cannot be read, so a replay would only fail again"
        elif done.settled:
            why = f"{entry.status}: handled again it would go through today's skills, not those that saw it"
        else:
            why = "not failed: it waits for its handler"
        return Response({"ok": False, "message": f"left as it is: {why}"}, status=409)

    @extend_schema(request=None, responses={200: ActionResultSerializer, 409: ActionResultSerializer})
    @action(detail=True, methods=["post"], url_path="give-up")
    def give_up(self, request: Request, pk=None) -> Response:
        """Give up a waiting event, as the admin's *Give up on waiting events* does: it is failed at once and
        its bot goes on to its later events (one whose skill keeps running past the task queue's timeout
        holds them for its attempts); a replay brings it back. An attempt running now still records its
        own verdict. 409 saying why for an event not waiting (one given up already is failed)."""
        entry = self.get_object()
        if give_up_entries(EventLogEntry.objects.filter(pk=entry.pk), operator=request.user.get_username()):
            return Response({"ok": True, "message": "given up: its bot goes on to its later events"})
        entry.refresh_from_db(fields=["status"])
        why = f"{entry.status}, not waiting for its handler"
        return Response({"ok": False, "message": f"left as it is: {why}"}, status=409)
