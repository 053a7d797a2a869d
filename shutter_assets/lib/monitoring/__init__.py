"""Monitoring and alerting without Dagster: settings, secret masking, channels, incidents and the
warehouse queries behind the monitoring checks (docs/operations.md)."""
