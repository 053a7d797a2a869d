"""Read-only REST API over the warehouse's marts (DESIGN.md section 8); no Dagster imports.

``python -m shutter_api`` serves it with uvicorn; ``shutter_api.main:create_app`` is the factory.
"""
