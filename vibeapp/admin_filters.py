"""The admin's list filters shared by every app: autocomplete ones, where a value in the URL that names no row
(a hand-edited `?portal=abc`) is the admin's usual "invalid lookup" notice, not a server error; and one by how
recent a date is, which costs no query."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from admin_auto_filters.filters import AutocompleteFilterFactory, _get_rel_model
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

RECENT_WINDOWS = {
    "1h": (_("last hour"), timedelta(hours=1)),
    "24h": (_("last 24 hours"), timedelta(hours=24)),
    "7d": (_("last 7 days"), timedelta(days=7)),
}


def autocomplete_filter(title: Any, base_parameter_name: str) -> Any:
    """AutocompleteFilterFactory's filter, refusing a malformed value as Django's own filters do."""
    base = AutocompleteFilterFactory(title, base_parameter_name)

    class CheckedAutocompleteFilter(base):  # type: ignore[misc, valid-type]
        def __init__(self, request: Any, params: dict[str, Any], model: Any, model_admin: Any) -> None:
            _refuse_an_id_out_of_range(params.get(self.parameter_name), model, self.parameter_name)
            try:  # the widget looks the chosen row up to show its name
                super().__init__(request, params, model, model_admin)
            except (ValueError, TypeError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error

        def queryset(self, request: Any, queryset: Any) -> Any:
            try:
                return super().queryset(request, queryset)
            except (ValueError, TypeError, ValidationError) as error:
                raise IncorrectLookupParameters(error) from error

    return CheckedAutocompleteFilter


def _refuse_an_id_out_of_range(given: Any, model: Any, parameter_name: str) -> None:
    """IncorrectLookupParameters for digits past any id the database holds: the widget's lookup of the row
    raised SQLite's OverflowError (a 500), where PostgreSQL found nothing; either way no row has it."""
    value = given[-1] if isinstance(given, list) and given else given
    digits = value.strip().lstrip("+-") if isinstance(value, str) else ""
    if not (digits.isascii() and digits.isdigit()):
        return  # no value, or not a number: the filter's own checks say so
    field_name = parameter_name.split("__")[-1]
    pk = (_get_rel_model(model, parameter_name) or model)._meta.get_field(field_name).related_model._meta.pk
    if pk.get_internal_type() not in connection.ops.integer_field_ranges:
        return
    low, high = connection.ops.integer_field_range(pk.get_internal_type())
    if (low is not None and int(value) < low) or (high is not None and int(value) > high):
        raise IncorrectLookupParameters(f"{parameter_name}={value[:40]} is past any id")


def recent_filter(title: Any, field_name: str) -> type[admin.SimpleListFilter]:
    """A filter by how recent `field_name` is (`?<field_name>_within=1h|24h|7d`).

    It stands where `date_hierarchy` would: the drill-down reads the first and last date, then each distinct
    month or day, of every row listed, on each opening of the list (4.7 s of 4.9 for an event log of 800,000
    entries on SQLite, a full scan on PostgreSQL); this filter's choices are fixed, so it costs no query."""

    class RecentFilter(admin.SimpleListFilter):
        parameter_name = f"{field_name}_within"

        def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
            return [(key, label) for key, (label, _window) in RECENT_WINDOWS.items()]

        def queryset(self, request: Any, queryset: Any) -> Any:
            chosen = RECENT_WINDOWS.get(self.value() or "")
            if chosen is None:
                return queryset
            now = timezone.now()  # up to now: a run due later is not one of the last hour's
            return queryset.filter(**{f"{field_name}__gte": now - chosen[1], f"{field_name}__lte": now})

    RecentFilter.title = title
    return RecentFilter
