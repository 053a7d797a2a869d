"""Machine logs: drop -> raw PostgreSQL (asset, sensor, reject-rate check, reprocessing job)."""
