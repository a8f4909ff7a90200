"""URL routes of botcore's portal-facing pages and API (the skills a portal admin switches and configures)."""

from django.urls import path

from botcore.web import api, pages

app_name = "botcore"

urlpatterns = [
    path("portal/skills/<str:name>/", pages.skill_settings, name="skill_settings"),
    path("portal/skills/<str:name>/switch/", pages.skill_switch, name="skill_switch"),
    path("api/skills/", api.SkillListView.as_view(), name="api_skills"),
    path("api/skills/<str:name>/", api.SkillDetailView.as_view(), name="api_skill"),
]
