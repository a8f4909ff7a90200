"""/api/schema/ and what drf-spectacular cannot guess: how the portal skills API authenticates (the app's
session cookie), and the refusals every operator API operation may answer, and the 429 of every API."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

# The schema as built, per language: it depends on the code and the settings only (served public, the same
# for every caller), and building it took ~100 ms of CPU per request, for anyone, unauthenticated.
_BUILT: dict[str, dict[str, Any]] = {}
_BUILT_LOCK = threading.Lock()


@receiver(setting_changed)
def _forget_built_schemas(**kwargs: Any) -> None:
    _BUILT.clear()


class SchemaView(SpectacularAPIView):
    """drf-spectacular's schema view, built once per language, and speaking only the app's languages."""

    @extend_schema(exclude=True)  # as drf-spectacular's own get is (SERVE_INCLUDE_SCHEMA: False)
    def get(self, request, *args, **kwargs):
        # drf-spectacular activates whatever ?lang= names, and Django keeps a translation object for every
        # language ever activated, for the process's life: each made-up value grew the process (~10 KB).
        lang = request.GET.get("lang")
        if lang and lang not in dict(settings.LANGUAGES):
            raise ValidationError({"lang": [f"one of: {', '.join(dict(settings.LANGUAGES))}"]})
        return super().get(request, *args, **kwargs)

    def _get_schema_response(self, request):
        # The API has no versions: a ?version= would only have made each value a schema of its own.
        language = translation.get_language()
        with _BUILT_LOCK:
            schema = _BUILT.get(language)
            if schema is None:
                generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                schema = _BUILT[language] = generator.get_schema(request=request, public=self.serve_public)
        filename = self._get_filename(request, None)
        return Response(data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'})


class PortalViewerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "botcore.web.api.PortalViewerAuthentication"
    name = "portalSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


_DETAIL = {"$ref": "#/components/schemas/Detail"}
_REFUSALS = {
    "401": ("no credentials, an unknown token, or an expired one (`Token expired`)", _DETAIL),
    "403": ("not staff, or without the admin's right this takes", _DETAIL),
    "404": ("no such id", _DETAIL),
    "415": ("a body of a type the API reads not (an action takes none)", _DETAIL),
    "400": (
        "a parameter this operation does not take or one given twice, a malformed id, a value outside a"
        " field's choices, or a body given to an action (none takes one): each named, with what is wrong",
        {"type": "object", "additionalProperties": {"type": "string"}},
    ),
}
# DRF's CursorPagination answers a cursor it cannot read (ops.api.EventCursorPage) with a 404, not a 400.
_INVALID_CURSOR = ("a cursor this list did not write: `Invalid cursor`", _DETAIL)

_TOO_MANY = {
    "description": "past VIBE_API_RATE for this caller: wait the seconds Retry-After names",
    "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
    "content": {"application/json": {"schema": _DETAIL}},
}


def document_operator_refusals(result, generator, request, public):
    """A postprocessing hook: the operator API's refusals beside each operation's own answers, and every
    API's 429 (vibeapp/api_rate.py). DRF answers them outside any view's code (authentication, rights,
    lookups, ops.api's filters, throttles), so no view declares them; without them a client generated from
    the schema knew only the 200."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Detail", {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
    )
    for path, operations in result["paths"].items():
        for operation in operations.values():
            operation["responses"].setdefault("429", _TOO_MANY)
        if not path.startswith("/api/ops/"):
            continue
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", ())}
            refusals = {code: _REFUSALS[code] for code in ("401", "403")}
            if "id" in names:
                refusals.update({code: _REFUSALS[code] for code in ("404", "400")})
            elif "limit" in names:
                refusals["400"] = _REFUSALS["400"]
            if "cursor" in names:
                refusals["404"] = _INVALID_CURSOR
            if method == "post":
                refusals["415"] = _REFUSALS["415"]
            for code, (description, schema) in refusals.items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": schema}}}
                )
    return result
