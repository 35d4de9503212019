"""tradegw_core.net."""
