"""DatabaseStateStore: the request budget's GCRA state in a table of the Django database.

pyrate-limiter keeps GCRA's state (one timestamp per budget) in a StateStore whose only duty is to step
it atomically; this one does so in a short write transaction on SQLite or PostgreSQL. The table is
created on first use, the way pyrate-limiter's own SQL buckets create theirs, and it is not a model:
it holds nothing but a digest-named row per key and is safe to drop at any time.

Which connection steps the state:
- normally the thread's own Django connection, in a transaction of its own (Django manages and closes
  it like any other);
- when the caller is already inside a transaction on PostgreSQL, a short-lived separate connection, so
  the row lock is released at once instead of when the caller commits;
- when the caller is inside a transaction on SQLite, that same transaction: SQLite has a single writer,
  and a second connection would wait on the caller's own lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pyrate_limiter import Rate, WallClock
from pyrate_limiter.abstracts.algorithm import Decision, State, StateAlgorithm
from pyrate_limiter.abstracts.store import StateStore

T = TypeVar("T")

TABLE = "vibe_request_budget"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (name VARCHAR(64) PRIMARY KEY, state VARCHAR(256) NOT NULL)"
)


# The database aliases whose budget table this process has made sure of (DatabaseStateStore._with_table).
_tables_made: set[str] = set()


class DatabaseStateStore(StateStore):
    is_async = False
    default_clock = WallClock()

    def __init__(self, name: str, *, alias: str = "default") -> None:
        self.name = name
        self.alias = alias

    def check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        # In a transaction of its own, a failed step aborts nothing of the caller's: it may try again.
        return self._with_table(lambda: self._check(algorithm, rates, now, weight), may_retry=True)

    def _check(self, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int) -> Decision:
        decision: Decision = self._in_own_transaction(
            lambda cursor, lock: self._step(cursor, algorithm, rates, now, weight, lock=lock)
        )
        return decision

    def _in_own_transaction(self, work: Any) -> Any:
        """Run work(cursor, row_lock) in a transaction that commits as soon as it is done (module doc)."""
        from django.db import connections, transaction

        default = connections[self.alias]
        if not default.in_atomic_block or default.vendor == "sqlite":
            with transaction.atomic(using=self.alias), default.cursor() as cursor:
                return work(cursor, _row_lock(default))
        separate = connections.create_connection(self.alias)
        try:
            with separate.cursor() as cursor:
                cursor.execute("BEGIN")
                try:
                    result = work(cursor, _row_lock(separate))
                except BaseException:
                    cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            return result
        finally:
            separate.close()

    def _step(
        self, cursor: Any, algorithm: StateAlgorithm, rates: list[Rate], now: int, weight: int, *, lock: str
    ) -> Decision:
        # INSERT first: on SQLite it takes the write lock before the read, whatever the transaction mode.
        cursor.execute(
            f"INSERT INTO {TABLE} (name, state) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            [self.name, _encode(algorithm.initial(rates))],
        )
        cursor.execute(f"SELECT state FROM {TABLE} WHERE name = %s{lock}", [self.name])
        row = cursor.fetchone()
        state = _decode(algorithm, rates, row[0] if row else "")
        # The moment of the decision is now, with the lock held, not when the caller asked: a wait for the
        # lock (SQLite's single writer, busy with the event log) would otherwise send the call that long
        # after the slot it was given, closer to the next call than the budget's interval.
        now = max(now, self.default_clock.now())
        new_state, decision = algorithm.step(rates, state, now, weight)
        if decision.allowed:
            cursor.execute(f"UPDATE {TABLE} SET state = %s WHERE name = %s", [_encode(new_state), self.name])
        return decision

    def _with_table(self, work: Callable[[], T], *, may_retry: bool) -> T:
        """work() with the table made sure of: before this process's first use of it, and again after a
        failure (most likely the table is missing: dropped, or created in a transaction that rolled back).
        Only a caller whose failed statement aborted nothing but its own transaction may retry at once; on
        PostgreSQL a failed SELECT in the caller's transaction aborts the caller's work too."""
        from django.db import DatabaseError

        if self.alias not in _tables_made:
            self._ensure_table()
        try:
            return work()
        except DatabaseError:
            # The table is there, so the database itself failed (SQLite locked past its busy timeout by
            # another writer, or gone): a second try would wait as long again, and the caller fails open.
            if may_retry and self._has_table():
                raise
            _tables_made.discard(self.alias)
            if not may_retry:
                raise
            self._ensure_table()
            return work()

    def _has_table(self) -> bool:
        """Whether the table exists: a read, which SQLite (WAL) answers at once while another process holds
        the write lock, where CREATE TABLE IF NOT EXISTS would wait for it."""
        from django.db import connections

        return TABLE in connections[self.alias].introspection.table_names()

    def _ensure_table(self) -> None:
        from django.db import DatabaseError

        try:
            if not self._has_table():
                self._in_own_transaction(lambda cursor, lock: cursor.execute(CREATE_TABLE))
        except DatabaseError:
            pass  # another process created it at the same moment (PostgreSQL reports a duplicate type)
        _tables_made.add(self.alias)

    def read(self, algorithm: StateAlgorithm, rates: list[Rate]) -> State:
        # A read may come first (a slot looked at before any is taken, as on a fresh install).
        return self._with_table(lambda: self._read(algorithm, rates), may_retry=False)

    def _read(self, algorithm: StateAlgorithm, rates: list[Rate]) -> State:
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(f"SELECT state FROM {TABLE} WHERE name = %s", [self.name])
            row = cursor.fetchone()
        return _decode(algorithm, rates, row[0] if row else "")

    def reset(self) -> None:
        from django.db import connections

        with connections[self.alias].cursor() as cursor:
            cursor.execute(f"DELETE FROM {TABLE} WHERE name = %s", [self.name])

    def __repr__(self) -> str:
        return f"DatabaseStateStore(alias={self.alias!r})"


def _row_lock(db: Any) -> str:
    return "" if db.vendor == "sqlite" else " FOR UPDATE"


def _encode(state: State) -> str:
    return ",".join(str(int(value)) for value in state)


def _decode(algorithm: StateAlgorithm, rates: list[Rate], text: str) -> State:
    values = [value for value in text.split(",") if value]
    if len(values) != len(rates):
        return algorithm.initial(rates)
    return algorithm.decode(values)


def read_text(name: str, *, alias: str = "default") -> str | None:
    """The text stored under `name` (the learned rates of budget.learning), or None."""
    from django.db import DatabaseError, connections

    def select() -> str | None:
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT state FROM {TABLE} WHERE name = %s", [name])
            row = cursor.fetchone()
        return row[0] if row else None

    # The table made sure of first, as for a budget's read: on PostgreSQL a SELECT of a missing table
    # aborts the caller's transaction, and a read may come before any write (a fresh database).
    try:
        return DatabaseStateStore(name, alias=alias)._with_table(select, may_retry=False)
    except DatabaseError:
        return None  # the store is out: nothing learned, as update_text's callers fail open


def update_text(name: str, change: Any, *, alias: str = "default") -> str:
    """Replace the text under `name` by change(old text or None) in one short write transaction."""
    from django.db import DatabaseError

    store = DatabaseStateStore(name, alias=alias)

    def work(cursor: Any, lock: str) -> str:
        # INSERT first, as in _step: it takes SQLite's write lock before the read.
        cursor.execute(
            f"INSERT INTO {TABLE} (name, state) VALUES (%s, '') ON CONFLICT (name) DO NOTHING", [name]
        )
        cursor.execute(f"SELECT state FROM {TABLE} WHERE name = %s{lock}", [name])
        row = cursor.fetchone()
        new: str = change(row[0] or None if row else None)
        cursor.execute(f"UPDATE {TABLE} SET state = %s WHERE name = %s", [new, name])
        return new

    try:
        return str(store._in_own_transaction(work))
    except DatabaseError:
        store._ensure_table()
        return str(store._in_own_transaction(work))
