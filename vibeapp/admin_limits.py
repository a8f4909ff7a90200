"""How many rows an admin action that works row by row takes at once, and how it tells what it left, shared by
every app's admin.

"Select all" hands an action every row of the list: a fleet's portals, bots or runs. An action that calls the
platform for each row while the page waits, or queues a task for each, is refused past its limit, before it
does anything, rather than be cut off by the web worker's timeout halfway through (telling nothing of which
rows it did) or flood the task queue ahead of the bots' replies. What it leaves is named for the first few
rows and counted for the rest: a message a row left a page of a thousand.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext

RESULTS_SHOWN = 10  # rows an action left as they were, named one by one; past it, counted


def refuse_too_many(request: HttpRequest, queryset: QuerySet[Any], *, limit: int, why: str) -> bool:
    """Whether more than `limit` rows are selected: then the operator is told so, and nothing is done. `why`
    is a whole sentence ("Re-verifying asks the platform about each portal while this page waits"), so that
    it is translated whole."""
    selected = queryset.count()
    if selected <= limit:
        return False
    name = queryset.model._meta.verbose_name_plural
    messages.error(
        request,
        gettext(
            "{why}: select at most {limit} {name} at a time ({selected} were selected; nothing was done)."
        ).format(why=why, limit=limit, name=name, selected=selected),
    )
    return True


def warn_each_left(request: HttpRequest, left: list[str], *, more: str) -> None:
    """A warning for each row an action left as it was (`left`: why, a text a row) up to RESULTS_SHOWN, then
    one counting the rest (`more`: a sentence with `{count}` in it, translated whole)."""
    for text in left[:RESULTS_SHOWN]:
        messages.warning(request, text)
    if len(left) > RESULTS_SHOWN:
        messages.warning(request, more.format(count=len(left) - RESULTS_SHOWN))
