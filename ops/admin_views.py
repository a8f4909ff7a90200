"""The fleet dashboard beside the admin index (/admin/fleet/): staff only, figures linked to their admin lists."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ops.charts import draw_labelled_bars, draw_time_bars
from ops.fleet import gather_fleet


def fleet_dashboard(request: HttpRequest) -> TemplateResponse:
    fleet = gather_fleet()
    context = {
        **admin.site.each_context(request),
        "title": "Fleet",
        "fleet": fleet,
        "portals_chart": draw_labelled_bars([(f.label, f.value) for f in fleet.portals], title="Portals by status"),
        "bots_chart": draw_labelled_bars([(f.label, f.value) for f in fleet.bots], title="Bots by status"),
        "events_chart": draw_time_bars(fleet.events_per_minute, title="Events per minute, last hour"),
        "failures_chart": draw_time_bars(fleet.failures_per_minute, title="Failures per minute, last hour", color="#ba2121"),
    }
    return TemplateResponse(request, "admin/ops/fleet.html", context)
