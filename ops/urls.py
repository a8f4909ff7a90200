"""Routes of the operator API and the project's OpenAPI schema."""

from functools import cache

from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import SimpleRouter

from ops import api


@cache
def _schema_view():
    from ops.schema_view import SchemaView

    return SchemaView.as_view()


@csrf_exempt  # as DRF's views are: the view itself decides (it answers GET alone)
def schema(request, *args, **kwargs):
    """/api/schema/, its view (and drf-spectacular's views and generator) imported by the first request for it
    rather than with the URLconf, which every web worker and `manage.py check` load."""
    return _schema_view()(request, *args, **kwargs)


router = SimpleRouter()
router.register("portals", api.PortalViewSet, basename="ops-portal")
router.register("bots", api.BotViewSet, basename="ops-bot")
router.register("events", api.EventViewSet, basename="ops-event")

urlpatterns = [
    path("api/ops/", api.OperatorRootView.as_view(), name="ops-root"),
    path("api/ops/fleet/", api.FleetView.as_view(), name="ops-fleet"),
    path("api/ops/", include(router.urls)),
    path("api/schema/", schema, name="schema"),
]
