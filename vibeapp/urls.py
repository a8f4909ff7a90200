"""Top-level URL routes of the web process."""

from django.contrib import admin
from django.urls import include, path

from ops import views as ops_views
from ops.admin_sign_in import admin_sign_in
from ops.admin_views import fleet_dashboard
from ops.metrics_view import metrics_view

handler400 = "ops.views.bad_request"  # a body over Django's upload limits is a 413 (ops/logs.py: BODY_LIMITS)
handler404 = "ops.views.page_not_found"  # JSON under /api/
handler500 = "ops.views.server_error"  # JSON under /api/

urlpatterns = [
    path("admin/fleet/", admin.site.admin_view(fleet_dashboard), name="ops_fleet"),
    path("admin/login/", admin_sign_in),  # before the admin's own: the same page, rate-limited
    path("admin/", admin.site.urls),
    path("healthz", ops_views.healthz, name="healthz"),
    path("health", ops_views.healthz, name="health"),  # the old name, kept for probes already pointed at it
    path("readyz", ops_views.readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
    path("", include("ops.urls")),
    path("", include("tenants.urls")),
    path("", include("botcore.urls")),
]
