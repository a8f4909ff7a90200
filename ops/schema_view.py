"""/api/schema/: drf-spectacular's schema view, built once per language and speaking only the app's
languages. Imported by the first request for it (ops/urls.py), not by every process that loads the URLconf."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import translation
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
