"""tradegw plugin for Kraken spot (WebSocket v2 + REST)."""

from __future__ import annotations

__version__ = "0.1.0"
