"""Housekeeping: the run history and captured logs kept for a bounded time (docs/deploy.md)."""
