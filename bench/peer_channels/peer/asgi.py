"""ASGI entry point: Django for HTTP, the board consumer for WebSockets."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer.settings")

from django.core.asgi import get_asgi_application

# Must run before importing anything that touches models or the app registry.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from peer.consumers import BoardConsumer  # noqa: E402

# No AuthMiddlewareStack (it needs sessions and a database) and no Origin validator: the
# benchmark's boards are anonymous and may send any Origin.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/<int:installation>/", BoardConsumer.as_asgi())]),
    }
)
