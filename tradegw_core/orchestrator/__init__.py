"""The orchestrator: provider supervision, pass-through stamping, windowed merges, control."""

from __future__ import annotations

from tradegw_core.orchestrator.merge import MergeStage
from tradegw_core.orchestrator.orchestrator import Orchestrator
from tradegw_core.orchestrator.supervisor import Backoff, Supervisor

__all__ = ["Backoff", "MergeStage", "Orchestrator", "Supervisor"]
