"""Configuration: ``models`` (the pydantic settings model), ``loader`` (dynaconf reading,
two-phase start-up), ``validation`` (clear ``key: why (got value)`` errors).

Import from the submodules; this package imports nothing so that using the models never
pulls in dynaconf or plugin discovery.
"""
