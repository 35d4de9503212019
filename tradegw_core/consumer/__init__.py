"""Consumers: the base class, their context, the subscription manager and their task."""

from __future__ import annotations

from tradegw_core.consumer.base import Consumer
from tradegw_core.consumer.book import apply_book_event
from tradegw_core.consumer.context import ConsumerContext, ConsumerLogger, OrderService
from tradegw_core.consumer.runner import ConsumerStats, run_consumer
from tradegw_core.consumer.subscriptions import SubscriptionManager, expand_streams, to_specs

__all__ = [
    "Consumer",
    "ConsumerContext",
    "ConsumerLogger",
    "ConsumerStats",
    "OrderService",
    "SubscriptionManager",
    "apply_book_event",
    "expand_streams",
    "run_consumer",
    "to_specs",
]
