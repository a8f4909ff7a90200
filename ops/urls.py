"""Routes of the operator API and the project's OpenAPI schema."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ops import api
from ops.schema import SchemaView

router = SimpleRouter()
router.register("portals", api.PortalViewSet, basename="ops-portal")
router.register("bots", api.BotViewSet, basename="ops-bot")
router.register("events", api.EventViewSet, basename="ops-event")

urlpatterns = [
    path("api/ops/", api.OperatorRootView.as_view(), name="ops-root"),
    path("api/ops/fleet/", api.FleetView.as_view(), name="ops-fleet"),
    path("api/ops/", include(router.urls)),
    path("api/schema/", SchemaView.as_view(), name="schema"),
]
