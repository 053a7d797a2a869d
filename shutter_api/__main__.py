"""``python -m shutter_api``: serve the API with uvicorn (API_HOST, API_PORT, API_WORKERS)."""

from __future__ import annotations

import uvicorn

from shutter_api.settings import ApiSettings


def main() -> None:
    settings = ApiSettings.from_env()  # fail here, before forking workers, on a bad variable
    uvicorn.run(
        "shutter_api.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        root_path=settings.root_path,
        proxy_headers=True,
        forwarded_allow_ips="*",
        access_log=False,
        limit_concurrency=1000,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
