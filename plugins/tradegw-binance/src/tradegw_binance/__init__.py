"""tradegw-binance: the Binance spot venue plugin for tradegw."""

from __future__ import annotations

__all__: list[str] = []
