"""Names in the order people expect: Unicode collation for the current language (ICU).

A byte-wise sort (Python's `sorted`, SQLite's and many PostgreSQL collations) puts
"Édouard" after "Zoé" and "Bélanger" after "Boucher". Lists shown to people are sorted here
instead, with ICU's collator for the current locale, so French and English readers each get
their dictionary order; SQL keeps only a stable order for what nobody reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import TypeVar

import icu

from . import i18n

T = TypeVar("T")


@cache
def _collator(locale: str) -> icu.Collator:
    # A collator is costly to build and, once built, safe to share: ICU's compare and sort
    # key methods are const.
    return icu.Collator.createInstance(icu.Locale(locale))


def name_key(text: str, locale: str | None = None) -> bytes:
    """The collation key of one name: keys compare (as bytes) in the language's order."""
    return bytes(_collator(locale or i18n.current_locale()).getSortKey(text))


def name_key_text(text: str, locale: str | None = None) -> str:
    """The same key as ASCII (hex): it orders the same in Python and in JavaScript, for a
    page that inserts a row arriving live at its place."""
    return _key_text(text, locale or i18n.current_locale())


@lru_cache(maxsize=8192)
def _key_text(text: str, locale: str) -> str:
    # A board renders its children's keys on every change: the same few hundred names.
    return name_key(text, locale).hex()


def sort_by_name(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """`items` ordered by the name `key` gives, in the current language's order (the sort is
    stable: equal names keep their incoming order, e.g. by id)."""
    collator = _collator(i18n.current_locale())
    return sorted(items, key=lambda item: bytes(collator.getSortKey(key(item))))


def person_name(first_name: str, last_name: str) -> str:
    """What lists of people sort on: family name, then given name (a tab sorts before any
    letter, so "Roy, Léa" comes before "Royer, Adam")."""
    return f"{last_name}\t{first_name}"
