"""HTTP routes (the WebSocket route lives in peer.asgi)."""

from __future__ import annotations

from django.urls import path

from peer.views import announce, healthz

urlpatterns = [
    path("announce/<int:installation>/", announce),
    path("healthz/", healthz),
]
