"""Shutter data platform: Dagster code location for the roller-shutter plant."""
