"""Translations through Babel catalogs. French (Canada) first, English on request.

Source strings are English; `fr_CA` is the default catalog. The current locale lives in a
context variable, so a fragment rendered for a French board and one for an English board can
be rendered one after the other in the same task.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

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
