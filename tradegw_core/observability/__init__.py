"""Observability: metrics facade, structured logging, tracing helpers."""
