"""tradegw_core.testing."""
