"""Django Channels + channels_redis peer for the fan-out benchmark (see ../README.md)."""
