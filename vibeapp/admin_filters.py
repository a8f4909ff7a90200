"""The admin's autocomplete list filters, shared by every app: a value in the URL that names no row (a
hand-edited `?portal=abc`) is the admin's usual "invalid lookup" notice, not a server error."""

from __future__ import annotations

from typing import Any

from admin_auto_filters.filters import AutocompleteFilterFactory
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError


def autocomplete_filter(title: str, base_parameter_name: str) -> Any:
    """AutocompleteFilterFactory's filter, refusing a malformed value as Django's own filters do."""
    base = AutocompleteFilterFactory(title, base_parameter_name)

    class CheckedAutocompleteFilter(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            try:  # the widget looks the chosen row up to show its name
                super().__init__(*args, **kwargs)
            except (ValueError, TypeError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error

        def queryset(self, request: Any, queryset: Any) -> Any:
            try:
                return super().queryset(request, queryset)
            except (ValueError, TypeError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error

    return CheckedAutocompleteFilter
