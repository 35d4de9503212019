"""The SQLite order journal: every request and state change, written before acting on it."""

from __future__ import annotations

from tradegw_core.journal.journal import OrderJournal
from tradegw_core.journal.store import (
    JournalRecord,
    JournalStore,
    LogEntry,
    OrderPhase,
    ReportRow,
)

__all__ = ["JournalRecord", "JournalStore", "LogEntry", "OrderJournal", "OrderPhase", "ReportRow"]
