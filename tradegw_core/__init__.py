"""tradegw: normalized market data in, orders out; venues and strategies are plugins."""

from __future__ import annotations

__version__ = "0.1.0"
