"""The HTTP control API: the control bus and a status page over authenticated HTTP.

Started by the :class:`~tradegw_core.gateway.Gateway` when ``[api] enabled = true``; see
:mod:`tradegw_core.api.server` for the routes.
"""

from __future__ import annotations

from tradegw_core.api.server import MAX_BODY, ControlApi
from tradegw_core.api.status import gateway_status

__all__ = ["MAX_BODY", "ControlApi", "gateway_status"]
