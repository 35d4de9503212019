"""tradegw_core.orchestrator."""
