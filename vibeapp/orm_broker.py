"""The task queue's ORM broker (no REDIS_URL): django-q2's own, with the three statements every task costs
(enqueue, take, acknowledge) sent as plain SQL instead of built by the ORM each time.

Each poll cycle is a task, so each message answered pays these three once. Built by the ORM they cost
~1.3 CPU-ms a task on SQLite (Django's deletion collector and its transaction for the acknowledgement, a
queryset cloned per filter), written out ~0.4 (README, "The task hand-over"): the same rows, the same
semantics. A task is taken by moving its `lock` forward from the value just read (another cluster that took
it first moved it already, and the update then changes no row), handed out again once the lock passes
(Q_CLUSTER `retry`), and deleted when acknowledged. Everything else (queue size, purge, the admin's queued
tasks) is django-q2's.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from vibeapp.sql_names import quoted_name

# Per backend vendor: the quoted names (vibeapp/sql_names.py) its statements are formatted with.
_QUOTED_NAMES: dict[str, dict[str, str]] = {}


class PlainSqlORM(ORM):
    def _database(self) -> BaseDatabaseWrapper:
        self.get_connection()  # django-q2's: closes a stale connection first, outside a transaction
        return connections[Conf.ORM]

    @staticmethod
    def _names(database: BaseDatabaseWrapper) -> dict[str, str]:
        """The queue table's and columns' names as the backend quotes them: read once per backend, not at
        every statement (each task's enqueue, take and acknowledgement looked the fields up again)."""
        names = _QUOTED_NAMES.get(database.vendor)
        if names is None:
            columns = {name: quoted_name(database, OrmQ, name) for name in ("id", "key", "payload", "lock")}
            names = _QUOTED_NAMES[database.vendor] = {"table": quoted_name(database, OrmQ), **columns}
        return names

    def enqueue(self, task: Any) -> int:
        database = self._database()
        names = self._names(database)
        returning = database.features.can_return_columns_from_insert
        sql = "INSERT INTO {table} ({key}, {payload}, {lock}) VALUES (%s, %s, %s)".format(**names)
        with database.cursor() as cursor:
            cursor.execute(
                f"{sql} RETURNING {names['id']}" if returning else sql,
                [self.list_key or Conf.CLUSTER_NAME, task, self._stamp(database, timezone.now())],
            )
            return cursor.fetchone()[0] if returning else cursor.lastrowid

    def dequeue(self) -> list[tuple[int, str]] | None:
        database = self._database()
        names = self._names(database)
        with database.cursor() as cursor:
            cursor.execute(
                "SELECT {id}, {payload}, {lock} FROM {table} WHERE {key} = %s AND {lock} < %s "
                "ORDER BY {id} LIMIT %s".format(**names),
                [self.list_key, self._stamp(database, timezone.now()), Conf.BULK],
            )
            waiting = cursor.fetchall()
            if not waiting:
                time.sleep(Conf.POLL)  # an empty queue, read again after a pause (django-q2's)
                return None
            until = self._stamp(database, timezone.now() + timedelta(seconds=Conf.RETRY))
            taken = []
            for pk, payload, lock in waiting:
                # The lock as read: the database's own value, compared with itself.
                cursor.execute(
                    "UPDATE {table} SET {lock} = %s WHERE {id} = %s AND {lock} = %s".format(**names),
                    [until, pk, lock],
                )
                if cursor.rowcount:
                    taken.append((pk, payload))
            return taken

    def delete(self, task_id: int) -> None:
        database = self._database()
        with database.cursor() as cursor:
            cursor.execute("DELETE FROM {table} WHERE {id} = %s".format(**self._names(database)), [task_id])

    @staticmethod
    def _stamp(database: BaseDatabaseWrapper, moment: Any) -> Any:
        return database.ops.adapt_datetimefield_value(moment)
