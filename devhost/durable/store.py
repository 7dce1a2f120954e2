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
    parent_task_id INTEGER, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS instances_by_created ON instances(created);
CREATE TABLE IF NOT EXISTS history(
    instance_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL,
    PRIMARY KEY(instance_id, seq));
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT,
    event TEXT NOT NULL, visible_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS inbox_by_visibility ON inbox(visible_at);
CREATE INDEX IF NOT EXISTS inbox_by_instance ON inbox(instance_id);
CREATE TABLE IF NOT EXISTS work(
    id INTEGER PRIMARY KEY AUTOINCREMENT, instance_id TEXT NOT NULL, execution_id TEXT NOT NULL,
    task_id INTEGER NOT NULL, name TEXT NOT NULL, input TEXT, created REAL NOT NULL);
"""

TERMINAL = ("Completed", "Failed", "Terminated")
HELD = 1e18  # visible_at of messages held back while their instance is suspended


class Store:
    """Thread-safe: one connection per thread; writes serialised by SQLite and a process lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.db.executescript(SCHEMA)

    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process kills
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            db = self.db
            db.execute("BEGIN")  # writers are serialised by the lock above
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ---- reads -------------------------------------------------------------------------------
    def instance(self, instance_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM instances WHERE id=?", (instance_id,)).fetchone()

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT event FROM history WHERE instance_id=? ORDER BY seq",
                               (instance_id,))
        return [json.loads(r[0]) for r in rows]

    def visible_messages(self, instance_id: str, now: float) -> list[sqlite3.Row]:
        return self.db.execute(
            "SELECT id, execution_id, event FROM inbox WHERE instance_id=? AND visible_at<=? "
            "ORDER BY id", (instance_id, now)).fetchall()

    def runnable_instances(self, now: float, limit: int = 64) -> list[str]:
        """Instances with visible messages, the longest-waiting first."""
        rows = self.db.execute(
            "SELECT instance_id FROM inbox WHERE visible_at<=? GROUP BY instance_id "
            "ORDER BY MIN(id) LIMIT ?", (now, limit)).fetchall()
        return [r[0] for r in rows]

    def next_visible_at(self) -> float | None:
        return self.db.execute("SELECT MIN(visible_at) FROM inbox WHERE visible_at<?",
                               (HELD,)).fetchone()[0]

    def pending_work(self, exclude: set[int], limit: int) -> list[sqlite3.Row]:
        rows = self.db.execute("SELECT * FROM work ORDER BY id LIMIT ?",
                               (limit + len(exclude),)).fetchall()
        return [r for r in rows if r["id"] not in exclude][:limit]

    def query(self, *, created_from: float | None = None, created_to: float | None = None,
              statuses: list[str] | None = None, prefix: str | None = None,
              limit: int | None = None, after: str | None = None) -> list[sqlite3.Row]:
        sql, args = "SELECT * FROM instances WHERE 1=1", []
        if created_from is not None:
            sql, args = sql + " AND created>=?", [*args, created_from]
        if created_to is not None:
            sql, args = sql + " AND created<=?", [*args, created_to]
        if statuses:
            sql += f" AND status IN ({','.join('?' * len(statuses))})"
            args += statuses
        if prefix:
            sql, args = sql + " AND substr(id, 1, ?)=?", [*args, len(prefix), prefix]
        if after:
            sql, args = sql + " AND id>?", [*args, after]
        sql += " ORDER BY id"
        if limit:
            sql, args = sql + " LIMIT ?", [*args, limit]
        return self.db.execute(sql, args).fetchall()

    # ---- writes (inside tx) ------------------------------------------------------------------
    @staticmethod
    def post(db: sqlite3.Connection, instance_id: str, event: dict[str, Any], visible_at: float,
             execution_id: str | None = None) -> None:
        db.execute("INSERT INTO inbox(instance_id, execution_id, event, visible_at) "
                   "VALUES(?,?,?,?)", (instance_id, execution_id, json.dumps(event), visible_at))

    @staticmethod
    def append_history(db: sqlite3.Connection, instance_id: str, start: int,
                       events: list[dict[str, Any]]) -> None:
        db.executemany("INSERT INTO history(instance_id, seq, event) VALUES(?,?,?)",
                       [(instance_id, start + k, json.dumps(e)) for k, e in enumerate(events)])

    @staticmethod
    def delete_messages(db: sqlite3.Connection, message_ids: list[int]) -> None:
        for start in range(0, len(message_ids), 500):  # within SQLite's variable limit
            chunk = message_ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM inbox WHERE id IN ({marks})", chunk)  # noqa: S608

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
            db.execute(f"DELETE FROM {table} WHERE instance_id=?", (instance_id,))  # noqa: S608
        return n
