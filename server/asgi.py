"""The ASGI application for uvicorn workers: `uvicorn server.asgi:app`."""

from .app import create_app

app = create_app()
