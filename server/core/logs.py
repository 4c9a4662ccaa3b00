"""How Relais writes its logs: plain lines for a person, or one JSON object per line
(`RELAIS_LOG_FORMAT=json`) for a log collector.

Every line says when, how bad, which worker and, within a request, which request (the
proxy's `X-Request-ID` when it sends one). One line per request or socket says its route —
the path's template (`/display/{token}`), never the path itself, which may carry a token —
its status and duration. Nothing here writes names, emails, positions or tokens: uvicorn's
own access lines (which quote paths and addresses) are turned off.
"""

from __future__ import annotations

import json
import logging
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
ACCESS_LOGGER = "relais.access"
# The request this code runs for (set by the web layer's middleware).
REQUEST_ID: ContextVar[str | None] = ContextVar("relais_request_id", default=None)
# What an access line carries besides the message (`extra=` of the logging call).
_ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "worker": record.process,
        "logger": record.name,
        "message": record.getMessage(),
    }
    request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
    if request_id:
        fields["request_id"] = request_id
    for name in _ACCESS_FIELDS:
        if hasattr(record, name):
            fields[name] = getattr(record, name)
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        return json.dumps(fields, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        line = f"{fields['time']} {record.levelname} [{record.process}] {record.name}: "
        line += record.getMessage()
        extra = " ".join(f"{k}={fields[k]}" for k in (*_ACCESS_FIELDS, "request_id") if k in fields)
        if extra:
            line += f" ({extra})"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class NoPathLines(logging.Filter):
    """Drops uvicorn's per-socket lines ('127.0.0.1:5000 - "WebSocket /display/<token>/ws"'):
    they quote the path, token included; the access line says the same with the route."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and '"WebSocket %s"' in record.msg)


def log_format(environ: dict[str, str] | None = None) -> str:
    """RELAIS_LOG_FORMAT: `text` (the default) or `json`; anything else is refused."""
    value = (os.environ if environ is None else environ).get("RELAIS_LOG_FORMAT") or "text"
    if value not in FORMATS:
        raise ValueError(f"RELAIS_LOG_FORMAT must be text or json, not {value!r}")
    return value


def logging_config(fmt: str, level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for the whole process, uvicorn's loggers included
    (uvicorn applies it in each worker)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"relais": {"()": f"{__name__}.{formatter.__name__}"}},
        "filters": {"no_paths": {"()": f"{__name__}.{NoPathLines.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "relais",
                "filters": ["no_paths"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # Through the root's handler, like every other line.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            # Off: it quotes each path and query string (tokens). Ours names the route.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        },
    }
