"""SQLite state, modelled on DTFx's Azure Storage provider: instances, history, an inbox of
messages with visibility times, and a work table of activity invocations.

Every episode and every activity completion commits in ONE transaction, so a process killed at any
point resumes by re-running whatever is still in `inbox` and `work`: activities are at-least-once,
exactly as in Azure.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances(
    id TEXT PRIMARY KEY, name TEXT NOT NULL, execution_id TEXT NOT NULL, status TEXT NOT NULL,
    input TEXT, output TEXT, custom_status TEXT, parent_id TEXT, parent_execution_id TEXT,
    parent_task_id INTEGER, created REAL NOT NULL, updated REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS instances_by_created ON instances(created);
CREATE TABLE IF NOT EXISTS history(
    instance_id TEXT NOT NULL, seq INTEGER NOT NULL, events TEXT NOT NULL,
    PRIMARY KEY(instance_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, instance_id TEXT NOT NULL, execution_id TEXT,
    event TEXT NOT NULL, visible_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_by_visibility ON inbox(visible_at);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox(instance_id);
CREATE TABLE IF NOT EXISTS work(
    id INTEGER PRIMARY KEY, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT, created REAL NOT NULL);
"""

TERMINAL = ("Completed", "Failed", "Terminated")
HELD = 1e18  # visible_at of messages held back while their instance is suspended


class StateInUseError(RuntimeError):
    """Another process holds the state file: two hosts would run the same orchestrations twice."""


class Store:
    """One connection, opened exclusively, shared by every thread under one lock.

    Exclusive locking mode lets SQLite keep the WAL index in process memory and skip the file
    locks of every transaction (an episode's commit is the host's largest fixed cost), and it keeps
    a second devhost off the same state, where both would run every orchestration. The file stays
    locked until `close()`; the next access reopens it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        with self._lock:
            self._db.executescript(SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        """The connection; callers hold `_lock`."""
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=2, isolation_level=None,
                                   check_same_thread=False)  # serialised by _lock
            conn.row_factory = sqlite3.Row
            try:
                # Before the first WAL access, so SQLite never creates the shared-memory index.
                conn.execute("PRAGMA locking_mode=EXCLUSIVE")
                # Small pages: an episode's commit dirties a page in each of several b-trees and
                # writes them all to the WAL; 1 KiB pages cut that write to a quarter (no-op on an
                # existing file).
                conn.execute("PRAGMA page_size=1024")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # durable across process kills
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock
            except sqlite3.OperationalError as exc:
                conn.close()
                if "locked" in str(exc):
                    raise StateInUseError(
                        f"devhost state {self.path} is in use by another process (another "
                        "devhost on the same app or --state-dir?); stop it or pick another "
                        "--state-dir") from exc
                raise
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Release the file (a later access reopens it)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _all(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- reads -------------------------------------------------------------------------------
    def instance(self, instance_id: str) -> sqlite3.Row | None:
        rows = self._all("SELECT * FROM instances WHERE id=?", (instance_id,))
        return rows[0] if rows else None

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return json.loads(f"[{self.played_history(instance_id)}]")

    def played_history(self, instance_id: str) -> str:
        """The history as `protocol.played_json` text: the inside of a JSON array."""
        rows = self._all("SELECT events FROM history WHERE instance_id=? ORDER BY seq",
                         (instance_id,))
        return ", ".join(r[0] for r in rows)

    def episode_input(self, instance_id: str,
                      now: float) -> tuple[sqlite3.Row | None, list[tuple[int, str | None, str]]]:
        """The instance and its visible messages as (id, execution_id, event), read by one
        statement so that both come from the same snapshot."""
        rows = self._all(
            "SELECT i.*, m.id AS m_id, m.execution_id AS m_execution_id, m.event AS m_event "
            "FROM instances i LEFT JOIN inbox m ON m.instance_id=i.id AND m.visible_at<=? "
            "WHERE i.id=? ORDER BY m.id", (now, instance_id))
        if not rows:  # messages for an instance that is gone (purged) must still be consumed
            return None, [tuple(r) for r in self._all(
                "SELECT id, execution_id, event FROM inbox WHERE instance_id=? AND visible_at<=? "
                "ORDER BY id", (instance_id, now))]
        return rows[0], [(r["m_id"], r["m_execution_id"], r["m_event"]) for r in rows
                         if r["m_id"] is not None]

    def runnable_instances(self, now: float, limit: int = 64) -> list[str]:
        """Instances with visible messages, the longest-waiting first."""
        rows = self._all(
            "SELECT instance_id FROM inbox WHERE visible_at<=? GROUP BY instance_id "
            "ORDER BY MIN(id) LIMIT ?", (now, limit))
        return [r[0] for r in rows]

    def next_visible_at(self) -> float | None:
        return self._all("SELECT MIN(visible_at) FROM inbox WHERE visible_at<?", (HELD,))[0][0]

    def pending_work(self, exclude: set[int], limit: int) -> list[sqlite3.Row]:
        rows = self._all("SELECT * FROM work ORDER BY id LIMIT ?", (limit + len(exclude),))
        return [r for r in rows if r["id"] not in exclude][:limit]

    def query(self, **filters: Any) -> list[sqlite3.Row]:
        """Every instance the filters match, in instance id order (purge by filter)."""
        where, args = _where(**filters)
        sql = f"SELECT * FROM instances WHERE {where} ORDER BY id"  # noqa: S608 - only ? marks
        return self._all(sql, args)

    def page(self, *, start: str | None, size: int,
             **filters: Any) -> tuple[list[sqlite3.Row], str | None]:
        """One page of a query, as DTFx's Azure Storage provider reads one segment of its
        Instances table: matches in instance id order (the PartitionKey) from the id `start` on,
        at most `size`, and the id the next page starts at (None: no more).

        The Table service also ends a segment early, with a continuation, where the query
        crosses a partition boundary ("it is possible for a query to return no results but to
        still return a continuation header", Query Timeout and Pagination). Modelled so that
        short and empty pages happen here too: a page ends where the ids' first character
        changes. A caller that stops at a short page then fails locally, not only in Azure."""
        where, args = _where(**filters)
        with self._lock:
            first = self._db.execute("SELECT id FROM instances WHERE id>=? ORDER BY id LIMIT 1",
                                     (start or "",)).fetchone()
            if first is None:
                return [], None
            head = first[0][:1]
            sql = (f"SELECT * FROM instances WHERE {where} "  # noqa: S608 - only ? marks
                   "AND id>=? AND substr(id, 1, 1)=? ORDER BY id LIMIT ?")
            rows = self._db.execute(sql, [*args, first[0], head, size + 1]).fetchall()
            if len(rows) > size:
                return rows[:size], rows[size]["id"]
            following = self._db.execute(
                "SELECT MIN(id) FROM instances WHERE id>? AND substr(id, 1, 1)<>?",
                (first[0], head)).fetchone()[0]
            return rows, following

    # ---- writes (inside tx) ------------------------------------------------------------------
    @staticmethod
    def post(db: sqlite3.Connection, instance_id: str, event: dict[str, Any], visible_at: float,
             execution_id: str | None = None) -> None:
        db.execute("INSERT INTO inbox(instance_id, execution_id, event, visible_at) "
                   "VALUES(?,?,?,?)", (instance_id, execution_id, json.dumps(event), visible_at))

    @staticmethod
    def append_history(db: sqlite3.Connection, instance_id: str, start: int, played: str) -> None:
        """One row per episode, keyed by the index of its first event, as DTFx's Azure Storage
        provider writes an episode's events in one batch. `played` is the episode's events as
        `protocol.played_json` text: stored the way every later episode sends them."""
        if played:
            db.execute("INSERT INTO history(instance_id, seq, events) VALUES(?,?,?)",
                       (instance_id, start, played))

    @staticmethod
    def delete_messages(db: sqlite3.Connection, message_ids: list[int]) -> None:
        for start in range(0, len(message_ids), 500):  # within SQLite's variable limit
            chunk = message_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM inbox WHERE id IN ({marks})", chunk)  # noqa: S608 - ? marks

    @staticmethod
    def hold(db: sqlite3.Connection, message_ids: list[int]) -> None:
        db.executemany("UPDATE inbox SET visible_at=? WHERE id=?", [(HELD, i) for i in message_ids])

    @staticmethod
    def release(db: sqlite3.Connection, instance_id: str, now: float) -> None:
        db.execute("UPDATE inbox SET visible_at=? WHERE instance_id=? AND visible_at>=?",
                   (now, instance_id, HELD))

    @staticmethod
    def delete_instance(db: sqlite3.Connection, instance_id: str) -> int:
        n = db.execute("DELETE FROM instances WHERE id=?", (instance_id,)).rowcount
        for table in ("history", "inbox", "work"):
            sql = f"DELETE FROM {table} WHERE instance_id=?"  # noqa: S608 - names from the tuple
            db.execute(sql, (instance_id,))
        return n


def _where(*, created_from: float | None = None, created_to: float | None = None,
           statuses: list[str] | None = None,
           prefix: str | None = None) -> tuple[str, list[Any]]:
    sql, args = "1=1", []
    if created_from is not None:
        sql, args = sql + " AND created>=?", [*args, created_from]
    if created_to is not None:
        sql, args = sql + " AND created<=?", [*args, created_to]
    if statuses:
        sql += f" AND status IN ({','.join('?' * len(statuses))})"
        args += statuses
    if prefix:
        sql, args = sql + " AND substr(id, 1, ?)=?", [*args, len(prefix), prefix]
    return sql, args
