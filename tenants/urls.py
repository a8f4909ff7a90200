"""URL routes of the portal-facing pages."""

from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("", views.app_entry, name="entry"),
    path("portal/", views.portal_page, name="portal"),
    path("portal/uninstall/", views.uninstall, name="uninstall"),
    path("portal/uninstalled/", views.uninstalled, name="uninstalled"),
    path("oauth/start/", views.oauth_start, name="oauth_start"),
    path("oauth/callback/", views.oauth_callback, name="oauth_callback"),
]
