"""tradegw_core.observability."""
