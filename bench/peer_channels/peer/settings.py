"""Minimal settings: only what Channels and one async view need, so the peer measures the
channel layer rather than Django's optional machinery."""

from __future__ import annotations

import os
from typing import Any

# Nothing is signed or stored; a fixed key just keeps Django from refusing to start.
SECRET_KEY = "bench-peer-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]

# Channels only: no ORM apps, no sessions, no auth, no admin.
INSTALLED_APPS = ["channels"]
# No middleware at all: each layer would add per-request cost that Relais does not pay.
MIDDLEWARE: list[str] = []
# Empty is valid: Django falls back to its dummy backend and nothing here touches a database.
DATABASES: dict[str, Any] = {}

ROOT_URLCONF = "peer.urls"
ASGI_APPLICATION = "peer.asgi.application"
USE_TZ = True

# Two redis-py 8 defaults break channels_redis 4.3.0 (django/channels_redis#422), so both
# are set explicitly on the pool:
# - socket_timeout became 5 s, the same as the layer's blocking BZPOPMIN (5 s): the read
#   times out first and the receiving board's consumer dies with "Timeout reading from
#   127.0.0.1:6379" about every 5 s of idleness. None restores redis-py 7's behaviour.
# - an asyncio pool now holds at most 100 connections and raises MaxConnectionsError
#   instead of waiting; every connecting board's group_add borrows one, so a burst of
#   ~100+ simultaneous connects rejected boards. Raise it well above any connect burst
#   (Redis allows 10,000 clients; idle pooled connections are cheap).
_pool_options = {
    "socket_timeout": None,
    "max_connections": int(os.environ.get("REDIS_MAX_CONNECTIONS", "2000")),
}
# An "address" entry is handed to redis-py's ConnectionPool.from_url, host/port to the pool.
_redis_url = os.environ.get("REDIS_URL")
_redis_host: dict[str, Any] = (
    {"address": _redis_url} if _redis_url else {"host": "127.0.0.1", "port": 6379}
)
_redis_hosts = [{**_redis_host, **_pool_options}]

CHANNEL_LAYERS = {
    "default": {
        # The classic layer (sorted sets + BZPOPMIN), the one most Channels deployments run.
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": _redis_hosts,
            # Default 100. group_send writes ONE entry per process into that process's Redis
            # key and skips the process (all its boards) once the key holds `capacity`
            # entries; the same figure bounds each consumer's in-process buffer, which
            # silently evicts its oldest message when full. 1000 leaves headroom at ~10k
            # deliveries/s so a short stall does not shed messages.
            "capacity": 1000,
            # Messages still undelivered after this many seconds are discarded.
            "expiry": 60,
            # Group membership is dropped this long after group_add: it must outlast the
            # longest board connection or that board goes silent. One day covers any run.
            "group_expiry": 86400,
        },
    },
}

# channels_redis reports group_send drops only as an INFO record on "channels_redis.core"
# ("N of M channels over capacity in group ..."); surface it on stderr so a run that
# sheds messages says so, even with uvicorn at --log-level warning.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "channels_redis": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
