"""``make bench``: benchmarks that print numbers (never timed tests).

Each section is a module of this package with a ``main(argv)``; ``python -m
tradegw_core.bench`` (:mod:`tradegw_core.bench.__main__`) runs them in turn.
"""
