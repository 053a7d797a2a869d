"""Deterministic plant simulator: machine log files and the legacy order book, with their truth.

``python -m shutter_assets.simulator --help`` for the command line; docs/simulator.md for what is
generated. Plain Python: nothing here imports Dagster.
"""
