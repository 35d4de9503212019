"""tradegw_core.sim."""
