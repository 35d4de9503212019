"""The plugin host: hookspecs, the pluggy manager, stevedore discovery, registries."""
