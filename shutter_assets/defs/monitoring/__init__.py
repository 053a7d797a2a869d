"""Monitoring: freshness, silent machines, stuck inputs and alerts by email and webhook."""
