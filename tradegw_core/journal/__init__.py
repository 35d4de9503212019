"""tradegw_core.journal."""
