"""A model's table and column names as a database backend quotes them, for the statements written out as
plain SQL instead of built by the ORM (botcore/services/cycle_sql.py on the default connection, the task
queue's ORM broker, vibeapp/orm_broker.py, on its own alias): the one place both read them.

The name comes from the model, so a statement follows a renamed column or table, and the quoting is the
backend's own. Both are read once per backend (its vendor: one quoting rule for every connection of it), not
again at every statement each message or task pays for.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

_QUOTED: dict[tuple[str, type[Model], str | None], str] = {}
_DEFAULT_QUOTED: dict[tuple[type[Model], str | None], str] = {}


def quoted_name(connection: BaseDatabaseWrapper, model: type[Model], field: str | None = None) -> str:
    """`model`'s table, or with `field` the column of that field, quoted for `connection`'s backend."""
    key = (connection.vendor, model, field)
    quoted = _QUOTED.get(key)
    if quoted is None:
        if field is None:
            name = model._meta.db_table
        else:
            found = model._meta.get_field(field)
            assert isinstance(found, Field), (
                f"{model.__name__}.{field} is a relation's other side, not a field"
            )
            assert found.column, f"{model.__name__}.{field} has no column"
            name = found.column
        quoted = _QUOTED[key] = connection.ops.quote_name(name)
    return quoted


def default_quoted_name(model: type[Model], field: str | None = None) -> str:
    """quoted_name for the default database, without asking its connection which backend it is: Django
    reads DATABASES once, so that backend is the process's for good. Asked through django.db.connection
    (a per-thread proxy: two context-local look-ups, ~5 µs), the vendor cost more than the rest, ~90 times
    a one-message cycle (botcore/services/cycle_sql.py)."""
    key = (model, field)
    quoted = _DEFAULT_QUOTED.get(key)
    if quoted is None:
        quoted = _DEFAULT_QUOTED[key] = quoted_name(connections[DEFAULT_DB_ALIAS], model, field)
    return quoted
