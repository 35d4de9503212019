"""tradegw_core.dispatcher."""
