"""The French (Canada) catalog covers every string the code and templates mark, keeps their
placeholders, and uses the product contract's fixed vocabulary.

Messages are extracted afresh with Babel's own API (same mapping as babel.cfg, same keywords
as `make extract-messages`), so a string added to the code without a translation fails here.
The catalog is compiled in memory: these tests do not depend on the git-ignored .mo file.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from babel.messages import frontend
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from server.core import i18n

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "server" / "locale"
POT = LOCALE_DIR / "messages.pot"
PO = LOCALE_DIR / "fr_CA" / "LC_MESSAGES" / "messages.po"

# A message's identity in a catalog: (context, msgid), the msgid being the singular for plurals.
Key = tuple[str | None, str]

BRACE_FIELD = re.compile(r"\{[^{}]*\}")
PERCENT_DIRECTIVE = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrs]|%[ds]")


def _keywords_from_makefile() -> dict[str, Any]:
    """The -k options of the `pybabel extract` line in the Makefile, added to Babel's defaults
    exactly as the command line does."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(
        line for line in makefile.splitlines() if "pybabel extract" in line and "babel.cfg" in line
    )
    args = shlex.split(line)
    specs = [args[i + 1] for i, arg in enumerate(args) if arg in ("-k", "--keyword", "--keywords")]
    assert specs, "the extract command in the Makefile names no keyword"
    keywords: dict[str, Any] = dict(DEFAULT_KEYWORDS)
    keywords.update(frontend.parse_keywords(specs))
    return keywords


def _method_map() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        return parse(cfg)  # type: ignore[no-any-return]


@cache
def _extraction() -> tuple[dict[Key, str | tuple[str, ...]], frozenset[Key]]:
    method_map, options_map = _method_map()
    messages: dict[Key, str | tuple[str, ...]] = {}
    in_templates: set[Key] = set()
    for filename, _lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=_keywords_from_makefile()
    ):
        key = (context, message[0] if isinstance(message, tuple) else message)
        messages[key] = message
        if filename.endswith(".html"):
            in_templates.add(key)
    return messages, frozenset(in_templates)


def extracted() -> dict[Key, str | tuple[str, ...]]:
    """Every marked string in server/ and templates/, as `make extract-messages` sees them."""
    return _extraction()[0]


def _read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale="fr_CA")


@cache
def french() -> Catalog:
    return _read(PO)


def _key(message: Message) -> Key:
    return (message.context, message.id if isinstance(message.id, str) else message.id[0])


def _entries(catalog: Catalog) -> dict[Key, Message]:
    return {_key(m): m for m in catalog if m.id}


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _placeholders(text: str) -> Counter[str]:
    return Counter(BRACE_FIELD.findall(text)) + Counter(PERCENT_DIRECTIVE.findall(text))


def _label(key: Key) -> str:
    context, msgid = key
    return f"{context}|{msgid}" if context else msgid


def test_extraction_finds_the_marked_strings() -> None:
    # Guards the test itself: a broken mapping would make everything below vacuous.
    messages = extracted()
    assert ("button", "Call") in messages  # pgettext in Python
    assert (None, "Arrivals") in messages  # _() in a template
    assert messages[(None, "%(num)d present")] == ("%(num)d present", "%(num)d present")


def test_template_is_up_to_date() -> None:
    template = _entries(_read(POT))
    fresh = extracted()
    missing = sorted(map(_label, fresh.keys() - template.keys()))
    stale = sorted(map(_label, template.keys() - fresh.keys()))
    assert not missing and not stale, (
        f"server/locale/messages.pot is out of date (run `make extract-messages`): "
        f"missing {missing}, no longer used {stale}"
    )
    for key, message in fresh.items():
        assert _forms(template[key].id) == _forms(message), _label(key)


def test_plural_forms_header() -> None:
    catalog = french()
    assert catalog.num_plurals == 2
    assert catalog.plural_expr.replace(" ", "") == "(n>1)"


def test_every_message_has_a_french_translation() -> None:
    catalog = french()
    entries = _entries(catalog)
    problems = []
    for key, source in sorted(extracted().items(), key=lambda item: _label(item[0])):
        entry = entries.get(key)
        if entry is None:
            problems.append(f"missing: {_label(key)}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {_label(key)}")
        forms = _forms(entry.string)
        expected_forms = catalog.num_plurals if isinstance(source, tuple) else 1
        if isinstance(source, tuple) and _forms(entry.id) != list(source):
            problems.append(f"plural msgid differs from the code: {_label(key)}")
        if len(forms) != expected_forms or not all(form.strip() for form in forms):
            problems.append(f"untranslated: {_label(key)}")
    assert not problems, "fr_CA catalog (make extract-messages, then edit the .po):\n" + "\n".join(
        problems
    )


def test_translations_keep_the_placeholders() -> None:
    entries = _entries(french())
    problems = []
    for key, source in extracted().items():
        entry = entries.get(key)
        if entry is None:
            continue  # reported by the test above
        expected = [_placeholders(text) for text in _forms(source)]
        for form in _forms(entry.string):
            if not form:
                continue
            found = _placeholders(form)
            # A plural form carries the placeholders of the singular or of the plural msgid.
            if found not in expected:
                problems.append(
                    f"{_label(key)!r} -> {form!r}: {dict(found)} vs {dict(expected[0])}"
                )
    assert not problems, "placeholders changed:\n" + "\n".join(problems)


def test_template_strings_survive_newstyle_formatting() -> None:
    # Jinja's newstyle gettext always applies `%` (with `num` for ngettext, and the template's
    # own named values), even without variables: a lone "%" would break the page. Named
    # placeholders are fine; any value stands in for them here.
    entries = _entries(french())
    problems = []
    for key in _extraction()[1]:
        for form in _forms(entries[key].string) if key in entries else []:
            try:
                form % defaultdict(int)
            except (KeyError, ValueError, TypeError) as error:
                problems.append(f"{_label(key)!r} -> {form!r}: {error!r}")
    assert not problems, "write a literal % as %% in:\n" + "\n".join(problems)


def test_apostrophes_are_typographic() -> None:
    entries = _entries(french())
    straight = sorted(
        _label(key)
        for key in extracted()
        if key in entries and any("'" in form for form in _forms(entries[key].string))
    )
    assert not straight, f"use ’ rather than ' in: {straight}"


@cache
def compiled() -> Translations:
    buffer = BytesIO()
    write_mo(buffer, french())
    buffer.seek(0)
    return Translations(buffer, domain="messages")


@pytest.mark.parametrize(
    ("english", "french_word"),
    [("Call", "Appeler"), ("Ready", "Prêt"), ("Departed", "Départ")],
)
def test_step_buttons_follow_the_contract(english: str, french_word: str) -> None:
    assert compiled().pgettext("button", english) == french_word


@pytest.mark.parametrize(
    ("english", "french_text"),
    [
        # A pickup's status: one word per state, the same for staff and parents (issue 13).
        ("Scheduled", "Prévu"),
        ("On the way", "En route"),
        ("Arriving soon", "Arrive bientôt"),
        ("Being prepared", "En préparation"),
        ("Ready", "Prêt"),
        ("Departed", "Parti"),
        ("Upcoming", "À venir"),
        ("Cancelled", "Annulé"),
        ("Expired", "Expiré"),
        ("Arrivals", "Arrivées"),
        ("Live", "En direct"),
        ("Reconnecting…", "Reconnexion…"),
        ("Connecting…", "Connexion…"),
        ("Turn sound on", "Activer le son"),
        ("Sound on", "Son activé"),
        ("Session ended", "Session terminée"),
        ("Sign in", "Se connecter"),
        ("Sign out", "Se déconnecter"),
        ("My group", "Mon groupe"),
        ("All groups", "Tous les groupes"),
        ("Check in", "Arrivée"),
        ("Change group", "Changer de groupe"),
        ("GPS ~{minutes} min", "GPS ~{minutes} min"),
        ("arrives at {time}", "arrive à {time}"),
        ("alert at {time}", "alerte à {time}"),
        ("waiting", "attend depuis"),
    ],
)
def test_fixed_vocabulary(english: str, french_text: str) -> None:
    assert compiled().gettext(english) == french_text


def test_plurals_choose_the_french_form() -> None:
    ngettext = compiled().ngettext
    assert ngettext("%(num)d present", "%(num)d present", 0) % {"num": 0} == "0 présent"
    assert ngettext("%(num)d present", "%(num)d present", 1) % {"num": 1} == "1 présent"
    assert ngettext("%(num)d present", "%(num)d present", 2) % {"num": 2} == "2 présents"


def test_dates_read_as_people_write_them_in_each_language() -> None:
    # 22:42 UTC is 17:42 in Montréal on the same day; one minute past midnight UTC is still
    # the previous evening there: the day shown is the installation's.
    evening = datetime(2026, 11, 30, 22, 42, tzinfo=UTC)
    after_midnight_utc = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
    with i18n.use_locale("fr_CA"):
        assert i18n.format_date(evening, "America/Toronto") == "30 nov. 2026"
        assert i18n.format_datetime(evening, "America/Toronto") == "30 nov. 2026 17:42"
        assert i18n.format_date(after_midnight_utc, "America/Toronto") == "30 nov. 2026"
        assert i18n.format_date(date(2026, 1, 2), fmt="long") == "2 janvier 2026"
    with i18n.use_locale("en"):
        assert i18n.format_date(evening, "America/Toronto") == "Nov 30, 2026"
        assert i18n.format_datetime(evening, "America/Toronto") == "Nov 30, 2026 17:42"
    assert i18n.format_date(None) == ""
