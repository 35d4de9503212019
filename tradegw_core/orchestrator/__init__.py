"""The orchestrator: provider supervision, pass-through stamping, control handling."""

from __future__ import annotations

from tradegw_core.orchestrator.orchestrator import MergeStage, Orchestrator
from tradegw_core.orchestrator.supervisor import Backoff, Supervisor

__all__ = ["Backoff", "MergeStage", "Orchestrator", "Supervisor"]
