"""Test support for tradegw and its plugins.

- ``plugin``: the pytest plugin (fixtures, loopback network guard).
- ``data``: locating the shared real captures.
- ``recorders``: telemetry and event recorders, a recording consumer, bounded waits.
- ``provider``: a recording ``ProviderContext`` to run a provider without a gateway.
- ``harness``: a running Gateway from a settings dict, or around one venue and consumer.
- ``plugins``: registration and cheap-import checks for a plugin's own tests.
"""
