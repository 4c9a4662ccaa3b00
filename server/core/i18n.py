"""Translations through Babel catalogs. French (Canada) first, English on request.

Source strings are English; `fr_CA` is the default catalog. The current locale lives in a
context variable, so a fragment rendered for a French board and one for an English board can
be rendered one after the other in the same task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DEFAULT_LOCALE = "fr_CA"
SUPPORTED_LOCALES = ("fr_CA", "en")
# What the language switch shows and accepts (short codes in URLs and cookies).
LANGUAGE_CODES = {"fr": "fr_CA", "en": "en"}

_current: ContextVar[str] = ContextVar("relais_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    if locale == "en":
        return NullTranslations()  # source strings are English
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def current_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """For one English word with two meanings (the "Departed" button vs. the status)."""
    return str(translations(_current.get()).pgettext(context, message))


_ = gettext


def negotiate(query_lang: str | None, cookie_lang: str | None) -> str:
    """An explicit choice (query, then cookie) wins; otherwise French (Canada)."""
    for choice in (query_lang, cookie_lang):
        if choice and choice in LANGUAGE_CODES:
            return LANGUAGE_CODES[choice]
    return DEFAULT_LOCALE


def short_code(locale: str) -> str:
    return "en" if locale == "en" else "fr"


def format_date(value: date | datetime | None, tz: str | None = None, fmt: str = "medium") -> str:
    """A day as people read it in the current language (« 30 nov. 2026 », "Nov 30, 2026").

    An instant is first moved to the installation's time zone `tz`, so a late-evening UTC
    instant shows the local day. ISO stays for CSV, JSON and `<time datetime>` attributes."""
    if value is None:
        return ""
    if isinstance(value, datetime) and tz is not None:
        value = value.astimezone(ZoneInfo(tz))
    return babel_dates.format_date(value, format=fmt, locale=current_locale())


def format_datetime(value: datetime | None, tz: str, fmt: str = "medium") -> str:
    """An instant in the installation's time zone: the day as `format_date`, then the time on
    the 24-hour clock Québec uses on both languages' boards (« 30 nov. 2026 17:42 »)."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(tz))
    day = babel_dates.format_date(local, format=fmt, locale=current_locale())
    return f"{day} {local:%H:%M}"
