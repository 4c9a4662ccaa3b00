"""Row-level checks on a normalized roster: what every input format shares.

Format-specific problems (a missing column, a bad boolean, a file that is not UTF-8) are found
by the readers; here: empty or too long fields, duplicate ids, references to unknown
installations, groups or guardians, and a pickup-enabled child no guardian can be reached for.
"""

from __future__ import annotations

from collections import Counter

from ..core.i18n import _
from .model import Roster, RowError, Source, error_at

MAX_ID = 100
MAX_PERSON_NAME = 100
MAX_PLACE_NAME = 200
MAX_EMAIL = 254

TRUE_WORDS = {"true", "1", "yes", "y", "oui", "o", "vrai", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "non", "faux", "f"}


def parse_bool(raw: str | None, default: bool | None = None) -> bool | None:
    """`true`/`false` and their usual spellings (yes/no, oui/non, 1/0); None when not one.
    An empty cell gives `default`."""
    value = (raw or "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    return None


def looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value and "@" not in domain)


def _text(
    errors: list[RowError],
    source: Source | None,
    ident: str | None,
    field: str,
    value: str,
    limit: int,
    *,
    required: bool = True,
) -> None:
    if required and not value.strip():
        errors.append(error_at(source, field, _("This field is required."), ident))
    elif len(value) > limit:
        errors.append(
            error_at(
                source,
                field,
                _("Too long: at most {limit} characters.").format(limit=limit),
                ident,
            )
        )


def validate(roster: Roster) -> list[RowError]:
    errors: list[RowError] = []

    # Installations and their groups.
    installation_ids = Counter(i.id for i in roster.installations)
    groups: dict[str, set[str]] = {}
    for inst in roster.installations:
        _text(errors, inst.source, inst.id, "id", inst.id, MAX_ID)
        _text(errors, inst.source, inst.id, "name", inst.name, MAX_PLACE_NAME)
        if inst.id and installation_ids[inst.id] > 1:
            errors.append(
                error_at(
                    inst.source,
                    "id",
                    _("Duplicate installation id {id}.").format(id=inst.id),
                    inst.id,
                )
            )
        for coordinate, value, bound in (
            ("latitude", inst.latitude, 90),
            ("longitude", inst.longitude, 180),
        ):
            if value is not None and not -bound <= value <= bound:
                errors.append(error_at(inst.source, coordinate, _("Out of range."), inst.id))
        group_ids = Counter(g.id for g in inst.groups)
        for group in inst.groups:
            source = group.source or inst.source
            _text(errors, source, group.id, "group id", group.id, MAX_ID)
            _text(errors, source, group.id, "group name", group.name, MAX_PLACE_NAME)
            if group.id and group_ids[group.id] > 1:
                errors.append(
                    error_at(
                        source,
                        "group id",
                        _("Duplicate group id {id}.").format(id=group.id),
                        group.id,
                    )
                )
        groups.setdefault(inst.id, set()).update(g.id for g in inst.groups)

    # Guardians.
    guardian_ids = Counter(g.id for g in roster.guardians)
    emails: dict[str, str] = {}
    for guardian in roster.guardians:
        src, gid = guardian.source, guardian.id
        _text(errors, src, gid, "id", gid, MAX_ID)
        _text(errors, src, gid, "first_name", guardian.first_name, MAX_PERSON_NAME)
        _text(errors, src, gid, "last_name", guardian.last_name, MAX_PERSON_NAME)
        _text(errors, src, gid, "email", guardian.email, MAX_EMAIL, required=False)
        if gid and guardian_ids[gid] > 1:
            errors.append(error_at(src, "id", _("Duplicate guardian id {id}.").format(id=gid), gid))
        if guardian.email and not looks_like_email(guardian.email):
            errors.append(error_at(src, "email", _("Not an email address."), gid))
        elif guardian.email:
            emails[gid] = guardian.email

    # Children.
    child_ids = Counter(c.id for c in roster.children)
    for child in roster.children:
        src, cid = child.source, child.id
        _text(errors, src, cid, "id", cid, MAX_ID)
        _text(errors, src, cid, "first_name", child.first_name, MAX_PERSON_NAME)
        _text(errors, src, cid, "last_name", child.last_name, MAX_PERSON_NAME)
        if cid and child_ids[cid] > 1:
            errors.append(error_at(src, "id", _("Duplicate child id {id}.").format(id=cid), cid))
        if child.installation_id not in groups:
            errors.append(
                error_at(
                    src,
                    "installation_id",
                    _("Unknown installation {id}.").format(id=child.installation_id),
                    cid,
                )
            )
        elif child.group_id not in groups[child.installation_id]:
            errors.append(
                error_at(
                    src,
                    "group_id",
                    _("Unknown group {id} in installation {installation}.").format(
                        id=child.group_id, installation=child.installation_id
                    ),
                    cid,
                )
            )
        for ref in child.guardian_ids:
            if ref not in guardian_ids:
                errors.append(
                    error_at(src, "guardian_ids", _("Unknown guardian {id}.").format(id=ref), cid)
                )
        if len(set(child.guardian_ids)) != len(child.guardian_ids):
            errors.append(error_at(src, "guardian_ids", _("A guardian is listed twice."), cid))
        if child.pickup_enabled and not any(emails.get(ref) for ref in child.guardian_ids):
            errors.append(
                error_at(
                    src,
                    "guardian_ids",
                    _(
                        "Pickup is enabled for this child but no guardian has an email address: "
                        "add one, or disable pickup."
                    ),
                    cid,
                )
            )
    return errors
