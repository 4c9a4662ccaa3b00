"""The Jinja2 environment: one folder per audience, translations through Babel, and the
filters templates need to show times in the installation's own time zone."""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from . import i18n
from .ratelimit import RateDecision, rate_limited_message
from .settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


def local_time(instant: datetime | None, tz: str) -> str:
    if instant is None:
        return ""
    return instant.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def iso(instant: datetime | None) -> str:
    return instant.isoformat() if instant is not None else ""


@cache
def _file_version(path: str) -> str:
    file = STATIC_DIR / path
    if not file.exists():
        return "0"
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    """A cache-busting URL: the version changes when the file does."""
    return f"/static/{path}?v={_file_version(path)}"


def vendor_url(path: str) -> str:
    return f"/static/vendor/{path}"


def create_environment(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        # Templates change with a deploy, which restarts the server: no stat() of every
        # template file on every render (a board render includes several).
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["local_time"] = local_time
    env.filters["iso"] = iso
    env.filters["format_date"] = i18n.format_date
    env.filters["format_datetime"] = i18n.format_datetime
    env.globals["static_url"] = static_url
    env.globals["vendor_url"] = vendor_url
    env.globals["current_locale"] = i18n.current_locale
    env.globals["lang_code"] = lambda: i18n.short_code(i18n.current_locale())
    # "Too many attempts. Try again in N minutes." after a redirect that carries N.
    env.globals["wait_message"] = lambda minutes: rate_limited_message(
        RateDecision(False, int(minutes))
    )
    env.globals.update(_feature_globals)
    return env


_environment: jinja2.Environment | None = None
# Names the layers above give every template (the board's vocabulary, the URL builder): the
# core cannot import them, so they register themselves (`add_globals`).
_feature_globals: dict[str, Any] = {}


def add_globals(**values: Any) -> None:
    _feature_globals.update(values)
    if _environment is not None:
        _environment.globals.update(values)


def environment() -> jinja2.Environment:
    global _environment
    if _environment is None:
        _environment = create_environment()
    return _environment


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
