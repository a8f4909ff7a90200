"""The project's JSON parser for DRF: a body nested too deeply is a 400, not the RecursionError's 500."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser turns ValueError into a 400, but Python's decoder raises RecursionError past ~1,000
    levels."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError:
            raise ParseError(_("The JSON is nested too deeply.")) from None
