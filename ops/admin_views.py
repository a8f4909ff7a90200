"""The fleet dashboard beside the admin index (/admin/fleet/): for staff who may read portals, bots and
events (the operator API's fleet figures ask the same), each figure linked to its admin list."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from ops.api_rights import may_read
from ops.charts import draw_inline_bar, draw_time_bars
from ops.fleet import FLEET_MODELS, Figure, gather_fleet


def _with_bars(figures: list[Figure]) -> list[tuple[Figure, str]]:
    top = max((f.value for f in figures), default=0)
    return [(f, draw_inline_bar(f.value, top=top)) for f in figures]


@require_safe  # a read: any other method (PUT, DELETE) rendered the page as GET would
def fleet_dashboard(request: HttpRequest) -> TemplateResponse:
    if not may_read(request.user, FLEET_MODELS):
        raise PermissionDenied("the fleet's figures count portals, bots and events: their view rights")
    fleet = gather_fleet()
    context = {
        **admin.site.each_context(request),
        "title": gettext("Fleet"),
        "fleet": fleet,
        "portal_rows": _with_bars(fleet.portals),
        "bot_rows": _with_bars(fleet.bots),
        "events_chart": draw_time_bars(
            fleet.events_per_minute, title=gettext("Events per minute, last hour")
        ),
        "failures_chart": draw_time_bars(
            fleet.failures_per_minute, title=gettext("Failures per minute, last hour"), color="#ba2121"
        ),
    }
    return TemplateResponse(request, "admin/ops/fleet.html", context)
