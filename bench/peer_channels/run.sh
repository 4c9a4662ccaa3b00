#!/usr/bin/env bash
# Start the Django Channels peer in the foreground: bench/peer_channels/run.sh <port>
# exec hands the shell's PID to uvicorn, so SIGTERM/SIGINT reach it directly.
set -euo pipefail

port="${1:?usage: run.sh <port>}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

export DJANGO_SETTINGS_MODULE=peer.settings
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"

# --ws: the benchmark's choice is the legacy `websockets` implementation (uvicorn prints a
# deprecation warning for it); PEER_WS=websockets-sansio matches Relais, whose ws=auto
# resolves to sansio. --ws-per-message-deflate false: Relais serves without compression, so
# the peer must not pay for deflating every ~1.2 KB frame per socket either.
# --lifespan off: Channels' router has no lifespan handler, so "auto" would only probe and
# fail. --timeout-graceful-shutdown bounds the exit when boards stay connected.
exec "$root/.venv/bin/python" -m uvicorn peer.asgi:application \
    --host 127.0.0.1 --port "$port" \
    --workers 1 --ws "${PEER_WS:-websockets}" --ws-per-message-deflate false \
    --lifespan off --log-level warning --no-access-log \
    --timeout-graceful-shutdown 5
