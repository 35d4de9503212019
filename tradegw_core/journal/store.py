"""The synchronous SQLite side of the order journal (one connection, WAL).

Two tables:

- ``orders``: one row per (provider, client_order_id) that passed the local checks: the
  request, the order's ``phase`` on our side (SENDING, SENT, UNKNOWN, REJECTED), its last
  execution state and cumulative quantity, the venue order id and the result the consumer
  got first (replayed to duplicates, also after a restart);
- ``log``: append-only, one row per request (including locally refused ones) and per state
  change, written before the change is acted on.

Every method is one transaction (Python's sqlite3 opens it before the first write and
``with self.db`` commits it, or rolls it back on error). The class is not thread-safe by
itself: :class:`OrderJournal` serialises every call onto one worker at a time.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from tradegw_core.errors import JournalError, TradegwError

__all__ = ["JournalRecord", "JournalStore", "LogEntry", "OrderPhase", "ReportRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    provider TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    request TEXT NOT NULL,
    trace_id TEXT NOT NULL DEFAULT '',
    phase TEXT NOT NULL,
    state TEXT,
    cum_qty TEXT NOT NULL DEFAULT '0',
    venue_order_id TEXT,
    result TEXT,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (provider, client_order_id)
);
CREATE INDEX IF NOT EXISTS orders_updated ON orders (updated_ns);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    provider TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    consumer_id TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_ts ON log (ts_ns);
"""

_FINAL_STATES = ("FILLED", "CANCELLED", "REJECTED", "EXPIRED")


class OrderPhase(enum.StrEnum):
    """Where an order stands on our side of the wire."""

    SENDING = "SENDING"
    """Journaled, about to be (or being) sent; after a crash its outcome is unknown."""
    SENT = "SENT"
    """The venue acknowledged it (or a query found it)."""
    UNKNOWN = "UNKNOWN"
    """The answer was lost; it is resolved by querying the venue, never by resending."""
    REJECTED = "REJECTED"
    """The venue refused it, or queries showed it never reached the venue."""


class JournalRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``orders`` as loaded at start-up."""

    provider: str
    client_order_id: str
    consumer_id: str
    symbol: str
    request: str
    trace_id: str
    phase: OrderPhase
    state: str | None
    cum_qty: Decimal
    venue_order_id: str | None
    result: str | None
    created_ns: int
    updated_ns: int


class LogEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One row of ``log``."""

    ts_ns: int
    kind: str
    provider: str
    client_order_id: str
    consumer_id: str
    payload: str


class ReportRow(msgspec.Struct, frozen=True, kw_only=True):
    """An execution report as the journal stores it (state columns plus the log payload)."""

    provider: str
    client_order_id: str
    consumer_id: str
    state: str
    cum_qty: Decimal
    venue_order_id: str | None
    payload: str


class JournalStore:
    """One SQLite connection in WAL mode; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._identity: tuple[int, int] | None = None

    def open(self) -> None:
        """Open (creating if needed) the database file and its schema; check its integrity.

        Raises :class:`JournalError` naming the file when it cannot be opened or is
        corrupt (not a database, truncated, damaged pages).
        """
        db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False)
            problems = [row[0] for row in db.execute("PRAGMA quick_check").fetchall()]
            if problems != ["ok"]:
                lines = [ln for p in problems for ln in str(p).splitlines() if ln.strip()]
                first = lines[0] if lines else "integrity check failed"
                raise sqlite3.DatabaseError(
                    f"corrupt ({first}; {len(lines)} problem(s) in its integrity check)"
                )
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit survives a power cut too, so an order journaled as SENDING is
            # never forgotten (and never re-sent); reports are batched to keep this cheap.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            stat = os.stat(self.path)
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            why = " ".join(str(exc).split())  # one line
            raise JournalError(
                f"cannot open the order journal {self.path}: {why}", path=str(self.path)
            ) from exc
        self._db = db
        self._identity = (stat.st_dev, stat.st_ino)

    def gone(self) -> str | None:
        """Why the open journal file is no longer the one in use (deleted, replaced), or None."""
        if self._identity is None:
            return None
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return f"the order journal {self.path} was deleted while in use"
        except OSError as exc:
            return f"the order journal {self.path} cannot be checked: {exc}"
        if (stat.st_dev, stat.st_ino) != self._identity:
            return f"the order journal {self.path} was replaced by another file while in use"
        return None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None
            self._identity = None

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection."""
        if self._db is None:
            raise TradegwError(f"the order journal {self.path} is not open")
        return self._db

    def append_log(self, entries: Sequence[LogEntry]) -> None:
        """Append log rows (requests refused locally, cancels, notes)."""
        with self.db:
            self.db.executemany(
                "INSERT INTO log (ts_ns, kind, provider, client_order_id, consumer_id, payload)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (e.ts_ns, e.kind, e.provider, e.client_order_id, e.consumer_id, e.payload)
                    for e in entries
                ],
            )

    def insert_order(self, rec: JournalRecord) -> None:
        """Write a new order (phase SENDING) and its request log row, before sending."""
        with self.db:
            self.db.execute(
                "INSERT INTO orders (provider, client_order_id, consumer_id, symbol, request,"
                " trace_id, phase, state, cum_qty, venue_order_id, result, created_ns,"
                " updated_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.provider,
                    rec.client_order_id,
                    rec.consumer_id,
                    rec.symbol,
                    rec.request,
                    rec.trace_id,
                    rec.phase.value,
                    rec.state,
                    str(rec.cum_qty),
                    rec.venue_order_id,
                    rec.result,
                    rec.created_ns,
                    rec.updated_ns,
                ),
            )
            self._log(
                rec.created_ns,
                "request",
                rec.provider,
                rec.client_order_id,
                rec.consumer_id,
                rec.request,
            )

    def set_phase(
        self,
        provider: str,
        client_order_id: str,
        phase: OrderPhase,
        ts_ns: int,
        *,
        result: str | None = None,
        venue_order_id: str | None = None,
        note: str = "",
    ) -> None:
        """Move an order to ``phase`` (and store its first result / venue id if given)."""
        with self.db:
            self.db.execute(
                "UPDATE orders SET phase = ?, result = COALESCE(?, result),"
                " venue_order_id = COALESCE(?, venue_order_id), updated_ns = ?"
                " WHERE provider = ? AND client_order_id = ?",
                (phase.value, result, venue_order_id, ts_ns, provider, client_order_id),
            )
            self._log(
                ts_ns, f"phase:{phase.value}", provider, client_order_id, "", note or (result or "")
            )

    def record_reports(self, rows: Sequence[ReportRow], ts_ns: int) -> None:
        """Store a batch of execution reports in one transaction (state columns + log)."""
        with self.db:
            self.db.executemany(
                "UPDATE orders SET state = ?, cum_qty = ?,"
                " venue_order_id = COALESCE(?, venue_order_id),"
                " phase = CASE WHEN phase IN ('SENDING', 'UNKNOWN') AND ? != 'REJECTED'"
                " THEN 'SENT' WHEN phase IN ('SENDING', 'UNKNOWN') THEN 'REJECTED'"
                " ELSE phase END, updated_ns = ? WHERE provider = ? AND client_order_id = ?",
                [
                    (
                        r.state,
                        str(r.cum_qty),
                        r.venue_order_id,
                        r.state,
                        ts_ns,
                        r.provider,
                        r.client_order_id,
                    )
                    for r in rows
                ],
            )
            self.db.executemany(
                "INSERT INTO log (ts_ns, kind, provider, client_order_id, consumer_id, payload)"
                " VALUES (?, 'report', ?, ?, ?, ?)",
                [(ts_ns, r.provider, r.client_order_id, r.consumer_id, r.payload) for r in rows],
            )

    def load(self) -> list[JournalRecord]:
        """Every order still in the journal, oldest first (JournalError when unreadable)."""
        try:
            return self._load()
        except (sqlite3.Error, ValueError, ArithmeticError) as exc:
            raise JournalError(
                f"the order journal {self.path} is corrupt: {exc}", path=str(self.path)
            ) from exc

    def _load(self) -> list[JournalRecord]:
        cur = self.db.execute(
            "SELECT provider, client_order_id, consumer_id, symbol, request, trace_id, phase,"
            " state, cum_qty, venue_order_id, result, created_ns, updated_ns FROM orders"
            " ORDER BY created_ns, rowid"
        )
        return [
            JournalRecord(
                provider=r[0],
                client_order_id=r[1],
                consumer_id=r[2],
                symbol=r[3],
                request=r[4],
                trace_id=r[5],
                phase=OrderPhase(r[6]),
                state=r[7],
                cum_qty=Decimal(r[8]),
                venue_order_id=r[9],
                result=r[10],
                created_ns=r[11],
                updated_ns=r[12],
            )
            for r in cur.fetchall()
        ]

    def log_entries(self, provider: str, client_order_id: str) -> list[LogEntry]:
        """The log of one order, in write order (audit and tests)."""
        cur = self.db.execute(
            "SELECT ts_ns, kind, provider, client_order_id, consumer_id, payload FROM log"
            " WHERE provider = ? AND client_order_id = ? ORDER BY id",
            (provider, client_order_id),
        )
        return [
            LogEntry(
                ts_ns=r[0],
                kind=r[1],
                provider=r[2],
                client_order_id=r[3],
                consumer_id=r[4],
                payload=r[5],
            )
            for r in cur.fetchall()
        ]

    def purge(self, before_ns: int) -> list[tuple[str, str]]:
        """Drop finished orders (and log rows) last changed before ``before_ns``.

        An order still open, in flight or of unknown outcome is kept whatever its age. Returns
        the (provider, client_order_id) keys dropped.
        """
        marks = ",".join("?" for _ in _FINAL_STATES)
        with self.db:
            cur = self.db.execute(
                "SELECT provider, client_order_id FROM orders WHERE updated_ns < ? AND"
                f" (phase = 'REJECTED' OR (phase = 'SENT' AND state IN ({marks})))",
                (before_ns, *_FINAL_STATES),
            )
            keys = [(str(a), str(b)) for a, b in cur.fetchall()]
            self.db.executemany(
                "DELETE FROM orders WHERE provider = ? AND client_order_id = ?", keys
            )
            self.db.execute(
                "DELETE FROM log WHERE ts_ns < ? AND NOT EXISTS (SELECT 1 FROM orders o"
                " WHERE o.provider = log.provider AND o.client_order_id = log.client_order_id)",
                (before_ns,),
            )
        return keys

    def _log(
        self, ts_ns: int, kind: str, provider: str, cid: str, consumer_id: str, payload: str
    ) -> None:
        self.db.execute(
            "INSERT INTO log (ts_ns, kind, provider, client_order_id, consumer_id, payload)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (ts_ns, kind, provider, cid, consumer_id, payload),
        )
