"""tradegw_core.api."""
