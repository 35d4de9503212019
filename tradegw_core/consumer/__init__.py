"""tradegw_core.consumer."""
