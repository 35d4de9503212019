"""Test support: the pytest plugin (fixtures, network guard) and shared-capture helpers."""
