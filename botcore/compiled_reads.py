"""Querysets a poll cycle runs for every message, compiled to SQL once per process and database connection.

Each costs more Python to build and compile than the database takes to run it: the cycle's bot with its
portal and settings ~0.4 ms, its pending events ~0.3 ms (README, polling benchmark). A CompiledRead builds
its queryset once with stand-ins for its ids, keeps the SQL and the compiler, and at each call runs that SQL
with the ids and turns the rows into instances through the same compiler (the backend's and the fields'
conversions, select_related's related instances, only()'s deferred fields) as the queryset would have:
tests/botcore/test_compiled_reads.py holds each to the queryset's own answer on both backends. Only integer
ids vary; anything else a queryset says (a status, an order) is fixed when it is built.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=Model)

# Stand-ins for the ids while the queryset is built: no id a table holds, and found again in its parameters.
_STAND_IN_BASE = -(2**53)


class _Compiled:
    def __init__(self, queryset: QuerySet, stand_ins: dict[str, int]) -> None:
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        self.sql, self.compiler = sql, compiler
        names = {value: name for name, value in stand_ins.items()}
        # Per parameter: the name of the id it takes, or None for a value the queryset fixed.
        self.slots = [names.get(param) if isinstance(param, int) else None for param in params]
        self.params = list(params)
        missing = set(stand_ins) - set(filter(None, self.slots))
        assert not missing, f"the queryset does not use {sorted(missing)}"
        klass_info = compiler.klass_info
        assert klass_info is not None and not compiler.annotation_col_map, "a queryset of model instances"
        select_fields = klass_info["select_fields"]
        self.model = klass_info["model"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.init_list = [column[0].target.attname for column in compiler.select[self.start : self.end]]
        # The backend's and the fields' conversions of each column, as results_iter finds them: found anew at
        # every call they were a third of the cycle's bot read (~0.1 ms: one look-up per column of the bot,
        # its portal and their settings), and they depend only on the columns and the connection.
        columns = [column[0] for column in compiler.select[: compiler.col_count]]
        assert not compiler.has_composite_fields(columns), "a queryset without composite keys"
        self.converters = compiler.get_converters(columns)
        # Django 5.2's signature; the stubs describe a later Django's, which adds a fetch mode.
        self.related = get_related_populators(klass_info, compiler.select, queryset.db)  # type: ignore[call-arg]
        self.db = queryset.db


class CompiledRead(Generic[M]):
    """`build(**ids)`'s queryset, compiled once per connection; `all(**ids)` its instances, in its order."""

    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self.build = build
        self.alias: str | None = None  # the queryset's database, known once it is built
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = (
            weakref.WeakKeyDictionary()
        )

    def all(self, **ids: int) -> list[M]:
        compiled = self._compiled_for(ids)
        params = [
            param if slot is None else ids[slot]
            for param, slot in zip(compiled.params, compiled.slots, strict=True)
        ]
        # As the queryset's own execution: an error inside an atomic block marks it for rollback.
        with (
            transaction.mark_for_rollback_on_error(compiled.db),
            compiled.compiler.connection.cursor() as cursor,
        ):
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        rows = (
            compiled.compiler.apply_converters(fetched, compiled.converters)
            if compiled.converters
            else fetched
        )
        instances = []
        for row in rows:
            instance = compiled.model.from_db(
                compiled.db, compiled.init_list, row[compiled.start : compiled.end]
            )
            for populator in compiled.related:
                populator.populate(row, instance)
            instances.append(instance)
        return instances

    def get(self, **ids: int) -> M:
        """The one instance, or the model's DoesNotExist, as QuerySet.get (for one row at most)."""
        found = self.all(**ids)
        if not found:
            model = self._compiled_for(ids).model
            raise model.DoesNotExist(f"{model._meta.object_name} matching query does not exist.")
        assert len(found) == 1, "CompiledRead.get of a queryset with several rows"
        return found[0]

    def _compiled_for(self, ids: dict[str, int]) -> _Compiled:
        compiled = None if self.alias is None else self._compiled.get(connections[self.alias])
        if compiled is None:
            stand_ins = {name: _STAND_IN_BASE - number for number, name in enumerate(sorted(ids))}
            queryset = self.build(**stand_ins)
            self.alias = queryset.db
            compiled = self._compiled[connections[self.alias]] = _Compiled(queryset, stand_ins)
        return compiled
