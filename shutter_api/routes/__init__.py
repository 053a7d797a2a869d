"""One APIRouter per resource, included by ``shutter_api.main``."""
