"""One way to run an entry point's event loop across the benchmark's processes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """uvloop when installed (uvicorn picks it for Relais and the peer, so the floor and the
    load generator run on the same loop), else asyncio's own."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
