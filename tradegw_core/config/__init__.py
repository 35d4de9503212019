"""tradegw_core.config."""
