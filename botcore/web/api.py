"""The portal's skills over HTTP (DRF) for its own people: list and read; admins switch and configure.

    GET   /api/skills/            every configured skill as this portal has it
    GET   /api/skills/<name>/     one of them
    PATCH /api/skills/<name>/     {"isEnabled": true, "options": {"ask_at": "09:00"}}  (admins; options merge)

Authentication is the Django session of the portal viewer (tenants.viewer.find_viewer), with Django's
CSRF check on writes as DRF's SessionAuthentication does; nothing in a request names a portal, so every
query is the caller's own portal. Refused options answer 400 {"options": {"<field>": "<why>"}}; unknown fields
or options are named five at most, with a count of them all under "non_field_errors" (or "" in options).
A Secret option is never answered: "" in options, its name in "secretsSet" when it has a value; a PATCH
giving it sets it, "" removes it, leaving it out keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.decorators import method_decorator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils import html

from botcore.errors import SkillConfigError
from botcore.selectors import PortalSkill, get_portal_skill, list_portal_skills
from botcore.services.skill_configs import configure_skill
from botcore.skills.option_fields import shortened
from botcore.skills.options import OptionsError, name_unknown_keys
from botcore.web.presenters import skill_document
from tenants.models import Portal
from tenants.viewer import Viewer, find_viewer
from vibeapp.api_views import RateBeforeRights, refuse_unknown_query_params


@dataclass(frozen=True)
class PortalViewer:
    """request.user for the API: a person of one portal, as the tenants session remembers them."""

    viewer: Viewer
    portal: Portal
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def is_admin(self) -> bool:
        return self.viewer.is_admin


class PortalViewerAuthentication(SessionAuthentication):
    def authenticate(self, request: Request):
        viewer = find_viewer(request._request)
        portal = viewer.portal() if viewer is not None else None
        if viewer is None or portal is None or not portal.is_installed:
            return None
        self.enforce_csrf(request)
        return PortalViewer(viewer, portal), None

    def authenticate_header(self, request: Request) -> str:
        return 'Session realm="portal"'  # makes DRF answer 401, not 403, to a caller with no session


class IsPortalViewer(BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        return isinstance(request.user, PortalViewer)


class IsPortalAdminOrReadOnly(BasePermission):
    message = _("Only a portal administrator can change skills.")

    def has_permission(self, request: Request, view) -> bool:
        return request.method in SAFE_METHODS or (
            isinstance(request.user, PortalViewer) and request.user.is_admin
        )


class OptionsField(serializers.DictField):
    """A JSON object passed on as it came: the skill's schema checks each option (OptionsSchema.validate),
    where DictField would first walk every entry, as many as the body holds. A form body is DictField's to
    parse (Django caps its fields at DATA_UPLOAD_MAX_NUMBER_FIELDS)."""

    def to_internal_value(self, data):
        if html.is_html_input(data):
            return super().to_internal_value(data)
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return data


class SkillChangeSerializer(serializers.Serializer):
    isEnabled = serializers.BooleanField(required=False)
    options = OptionsField(required=False)

    def validate(self, attrs):
        unknown, count = name_unknown_keys(self.initial_data, self.fields)
        if unknown:
            errors = {name: [_("is not a field of a skill change")] for name in unknown}
            if count > len(unknown):
                errors[api_settings.NON_FIELD_ERRORS_KEY] = [
                    gettext("unknown fields in all: %(count)d") % {"count": count}
                ]
            raise serializers.ValidationError(errors)
        if not attrs:
            raise serializers.ValidationError(_("give isEnabled and/or options"))
        return attrs


class _Texts(serializers.DictField):
    """A text in each language it has: {"en": "…", "ru": "…"}."""

    child = serializers.CharField()


class SkillCommandDocument(serializers.Serializer):
    command = serializers.CharField()
    title = _Texts()
    description = _Texts()
    buttonOnly = serializers.BooleanField()


class SkillScheduleDocument(serializers.Serializer):
    name = serializers.CharField()
    cron = serializers.CharField()


class OptionDescription(serializers.Serializer):
    """One option as OptionsSchema.describe gives it; a field past the first five only for its kinds."""

    kind = serializers.CharField(
        help_text="text, secret, integer, boolean, choice, time, id_list, group_chat, portal_users, weekdays"
    )
    default = serializers.JSONField(help_text="the value a portal has until its admin gives one")
    required = serializers.BooleanField()
    label = _Texts()
    help = _Texts()
    maxLength = serializers.IntegerField(required=False, help_text="text kinds: the most characters")
    pattern = serializers.CharField(
        required=False, allow_null=True, help_text="text kinds: a regular expression the whole value matches"
    )
    min = serializers.IntegerField(required=False, allow_null=True, help_text="integer: the least value")
    max = serializers.IntegerField(required=False, allow_null=True, help_text="integer: the greatest value")
    choices = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="choice: the values it takes, in order"
    )
    choiceLabels = serializers.DictField(
        child=_Texts(),
        required=False,
        help_text="choice: each value's label in each language its skill gives ({} where none: the settings"
        " page shows the value itself); a value, never its label, is what options take",
    )


# The schema of presenters.skill_document, which builds the document (these serializers only describe it):
# the schema said "an object", so a client generated from it knew no field (an integrator's trial).
class SkillDocument(serializers.Serializer):
    """One skill as this portal has it."""

    name = serializers.CharField()
    title = _Texts()
    summary = _Texts()
    isEnabled = serializers.BooleanField()
    options = serializers.DictField(help_text='as stored; a secret\'s value is always ""')
    secretsSet = serializers.ListField(
        child=serializers.CharField(), help_text="the secrets that have a value"
    )
    optionsSchema = serializers.DictField(child=OptionDescription(), help_text="each option by its name")
    commands = SkillCommandDocument(many=True)
    schedules = SkillScheduleDocument(many=True)


class SkillListDocument(serializers.Serializer):
    skills = SkillDocument(many=True)


# The refusals each operation answers, in the schema (a client generated from it knew only the 200). DRF's
# {detail} for all but a change's 400, which names each field refused (or its options').
_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
_NO_SESSION = OpenApiResponse(_DETAIL, description="no app session of a portal that has the app installed")
_NO_SUCH_SKILL = OpenApiResponse(_DETAIL, description="no skill of that name is configured")
_NOT_AN_ADMIN = OpenApiResponse(_DETAIL, description="not an administrator of the portal, or no CSRF token")
_UNKNOWN_PARAMETER = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "string"}},
    description='a query parameter the operation does not take, named: {"portal": "not a parameter of this'
    ' operation"}',
)
_CHANGE_REFUSED = OpenApiResponse(
    {"type": "object", "additionalProperties": True},
    description='each field refused, with why: {"isEnabled": ["…"]}, {"options": {"<option>": "…"}}, or'
    ' {"detail": "…"} for a body that is no JSON object, or {"<parameter>": "not a parameter of this'
    ' operation"}',
)


# One portal's answers, as its pages are (tenants.framing): no cache may keep them past the viewer's rights.
@method_decorator(never_cache, name="dispatch")
class SkillViewBase(RateBeforeRights):
    authentication_classes = [PortalViewerAuthentication]
    permission_classes = [IsPortalViewer, IsPortalAdminOrReadOnly]

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # the caller, its rate and its rights first
        refuse_unknown_query_params(request, ("format",))  # DRF's format suffix: none other is taken

    def portal_skill(self, request: Request, name: str) -> PortalSkill:
        try:
            return get_portal_skill(request.user.portal, name)
        except SkillConfigError:
            raise NotFound(gettext("There is no skill named %(name)s.") % {"name": shortened(name)}) from None


class SkillListView(SkillViewBase):
    @extend_schema(
        operation_id="skills_list",
        responses={200: SkillListDocument, 400: _UNKNOWN_PARAMETER, 401: _NO_SESSION},
        summary="This portal's skills",
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"skills": [skill_document(entry) for entry in list_portal_skills(request.user.portal)]}
        )


class SkillDetailView(SkillViewBase):
    @extend_schema(
        operation_id="skills_retrieve",
        responses={200: SkillDocument, 400: _UNKNOWN_PARAMETER, 401: _NO_SESSION, 404: _NO_SUCH_SKILL},
        summary="One skill of this portal",
    )
    def get(self, request: Request, name: str) -> Response:
        return Response(skill_document(self.portal_skill(request, name)))

    @extend_schema(
        operation_id="skills_change",
        request=SkillChangeSerializer,
        responses={
            200: SkillDocument,
            400: _CHANGE_REFUSED,
            401: _NO_SESSION,
            403: _NOT_AN_ADMIN,
            404: _NO_SUCH_SKILL,
        },
        summary="Switch a skill or change its options (admins)",
    )
    def patch(self, request: Request, name: str) -> Response:
        self.portal_skill(request, name)  # 404 before validating a change to nothing
        change = SkillChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        try:
            entry = configure_skill(
                request.user.portal,
                skill_name=name,
                is_enabled=change.validated_data.get("isEnabled"),
                options=change.validated_data.get("options"),
            )
        except OptionsError as error:
            return Response({"options": error.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(skill_document(entry))
