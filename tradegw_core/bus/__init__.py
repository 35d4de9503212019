"""tradegw_core.bus."""
