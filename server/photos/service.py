"""Photos of children and guardians: image checks, storage, and the use-cases around them.

A parent's new photo never replaces the current one directly: it waits in `pending_photo` for
the centre's approval (seed: "Approbation en attente"), and announcing is refused meanwhile
(see `pickups.service.announce_facts`). Every upload is decoded and re-encoded here, so what is
kept is a plain JPEG of at most 1024 px, without any metadata (no EXIF, no GPS position).

The use-cases do not commit: the caller commits, then calls `remove_files` for the files the
change made obsolete and publishes the returned events (a board may show photos one day).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar

from PIL import Image, ImageOps
from sqlalchemy import exists, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from ..accounts.authz import CenterPrincipal, GuardianPrincipal, StaffPrincipal
from ..core.collation import person_name, sort_by_name
from ..core.i18n import _
from ..core.models import Child, ChildGuardian, Guardian, Installation
from ..pickups.events import BoardEvent, next_seq

MAX_BYTES = 5 * 1024 * 1024
# Decoding a picture costs memory in pixels, not in bytes: a small file can claim billions.
MAX_PIXELS = 40_000_000
MAX_SIDE = 1024
JPEG_QUALITY = 85
BASE_FORMATS = ("JPEG", "PNG", "WEBP")

TargetKind = Literal["child", "guardian"]
KINDS: tuple[TargetKind, ...] = ("child", "guardian")

# Stored names are ours (random, see `store`); anything else is never turned into a path.
_NAME = re.compile(r"[A-Za-z0-9_-]{8,59}\.jpg")

# HEIF (iPhone photos) when the optional pillow-heif plugin is installed.
with contextlib.suppress(ImportError):
    importlib.import_module("pillow_heif").register_heif_opener()


# -- errors --------------------------------------------------------------------------------


class PhotoError(Exception):
    """A refusal in plain words (`message`), with the HTTP status a route answers it with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PhotoRejected(PhotoError):
    """The file is not a photo we accept (type, size, damaged, too many pixels)."""

    status = 422

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        if too_large:
            self.status = 413


class PhotoNotFound(PhotoError):
    """Unknown, or not the caller's to see or change: the same answer for both."""

    status = 404

    def __init__(self) -> None:
        super().__init__(_("Not found, or not yours to see."))


class PhotoForbidden(PhotoError):
    status = 403


class PhotoConflict(PhotoError):
    """The photo changed since the page was shown (another upload, another decision)."""

    status = 409


def too_large_message() -> str:
    return _("This photo is too large: send a picture of at most 5 MB.")


# -- pure image handling -------------------------------------------------------------------


def accepted_formats() -> tuple[str, ...]:
    Image.init()
    return BASE_FORMATS + (("HEIF",) if "HEIF" in Image.OPEN else ())


def process_image(data: bytes) -> bytes:
    """Check an uploaded picture and re-encode it: upright (EXIF orientation applied), RGB,
    at most MAX_SIDE px on its longest side, JPEG quality 85, no metadata at all.

    The type is what the bytes decode as, never the file name or the declared type.
    Raises PhotoRejected with a message for the person who sent it.
    """
    if len(data) > MAX_BYTES:
        raise PhotoRejected(too_large_message(), too_large=True)
    not_a_photo = _("This file is not a photo Relais can read. Send a JPEG, PNG or WebP picture.")
    if not data:
        raise PhotoRejected(not_a_photo)
    formats = accepted_formats()
    try:
        image = Image.open(io.BytesIO(data), formats=list(formats))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRejected(_too_many_pixels()) from None
    except Exception:  # Pillow raises many kinds of errors on hostile input
        raise PhotoRejected(not_a_photo) from None
    with image:
        # MPO is JPEG with extra pictures after the first (many phones write it): the first
        # picture is the photo.
        decoded_as = "JPEG" if image.format == "MPO" else image.format
        if decoded_as not in formats:
            raise PhotoRejected(not_a_photo)
        width, height = image.size
        if width < 1 or height < 1:
            raise PhotoRejected(not_a_photo)
        if width * height > MAX_PIXELS:
            raise PhotoRejected(_too_many_pixels())
        try:
            if decoded_as == "JPEG":
                # Decode at a reduced scale straight away (never below MAX_SIDE on each side).
                image.draft("RGB", (MAX_SIDE, MAX_SIDE))
            image.load()
            return _reencode(image)
        except PhotoRejected:
            raise
        except Exception:
            raise PhotoRejected(
                _("This picture is damaged or incomplete. Take it again or choose another one.")
            ) from None


def _too_many_pixels() -> str:
    return _("This picture has too many pixels to be processed. Send a smaller one.")


def _upright(image: Image.Image) -> Image.Image:
    try:
        turned = ImageOps.exif_transpose(image)
    except Exception:  # unreadable EXIF: keep the picture as it is rather than refuse it
        return image
    return turned if turned is not None else image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or "transparency" in image.info


def _reencode(image: Image.Image) -> bytes:
    picture = _upright(image)
    if _has_alpha(picture):
        picture = picture.convert("RGBA")
    elif picture.mode not in {"RGB", "L"}:
        picture = picture.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    if picture.mode == "RGBA":
        flat = Image.new("RGB", picture.size, (255, 255, 255))
        flat.paste(picture, mask=picture.getchannel("A"))
    else:
        flat = picture.convert("RGB")
    # Nothing of the original's metadata may follow: EXIF (GPS), comments, XMP, ICC.
    flat.info.clear()
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


# -- files ---------------------------------------------------------------------------------


def photo_path(photos_dir: Path, name: str) -> Path:
    """The file of a stored photo. Raises ValueError for a name `store` cannot have made."""
    if not _NAME.fullmatch(name):
        raise ValueError("not a stored photo name")
    return photos_dir / name


def store(photos_dir: Path, jpeg: bytes) -> str:
    """Write a processed photo under a new random name, atomically (a reader never sees half
    a file). Returns the name (26 characters)."""
    photos_dir.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(16) + ".jpg"
    fd, temporary = tempfile.mkstemp(dir=photos_dir, prefix=".upload-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(jpeg)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, photo_path(photos_dir, name))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return name


def remove_files(photos_dir: Path, names: Iterable[str | None]) -> None:
    """Delete photo files that no row refers to any more (call after the commit)."""
    for name in names:
        if not name:
            continue
        with contextlib.suppress(ValueError, OSError):
            photo_path(photos_dir, name).unlink(missing_ok=True)


# -- use-cases -----------------------------------------------------------------------------


@dataclass
class PhotoOutcome:
    changed: bool
    events: list[BoardEvent] = field(default_factory=list)
    # After the commit: files no row refers to any more.
    stale_files: tuple[str, ...] = ()
    # The file this change wrote (to delete if the commit fails).
    new_file: str | None = None


def parse_kind(raw: str) -> TargetKind | None:
    return "child" if raw == "child" else "guardian" if raw == "guardian" else None


async def _load(
    session: AsyncSession, target_kind: str, target_id: int, organization_id: int
) -> Child | Guardian:
    target: Child | Guardian | None
    if target_kind == "child":
        target = await session.get(Child, target_id)
    elif target_kind == "guardian":
        target = await session.get(Guardian, target_id)
    else:
        target = None
    if target is None or target.organization_id != organization_id:
        raise PhotoNotFound()
    return target


async def _is_linked(session: AsyncSession, child_id: int, guardian_id: int) -> bool:
    found = (
        await session.execute(
            select(
                exists().where(
                    col(ChildGuardian.child_id) == child_id,
                    col(ChildGuardian.guardian_id) == guardian_id,
                )
            )
        )
    ).scalar_one()
    return bool(found)


async def target_for_guardian(
    session: AsyncSession, principal: GuardianPrincipal, target_kind: str, target_id: int
) -> Child | Guardian:
    """The photo a signed-in parent may change: their own, or one of their children's.
    An authorized person (a grandparent) may change their own photo only."""
    target = await _load(session, target_kind, target_id, principal.organization_id)
    if isinstance(target, Guardian):
        if target.id != principal.guardian_id:
            raise PhotoNotFound()
        return target
    assert target.id is not None
    if not await _is_linked(session, target.id, principal.guardian_id):
        raise PhotoNotFound()
    if not principal.manages_family:
        raise PhotoForbidden(_("Only the child's parents can change the child's photo."))
    return target


M = TypeVar("M", bound=Child | Guardian)


async def _swap(
    session: AsyncSession,
    model: type[M],
    row_id: int,
    *,
    photo: str | None,
    pending: str | None,
    new_photo: str | None,
    new_pending: str | None,
) -> bool:
    """Set both columns if they still hold what this transaction read (compare-and-set):
    two admins deciding at once, or two uploads at once, never lose or orphan a file."""
    photo_column, pending_column = col(model.photo), col(model.pending_photo)
    result = await session.execute(
        update(model)
        .where(
            col(model.id) == row_id,
            photo_column.is_(None) if photo is None else photo_column == photo,
            pending_column.is_(None) if pending is None else pending_column == pending,
        )
        .values(photo=new_photo, pending_photo=new_pending)
        .returning(col(model.id))
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def _apply(
    session: AsyncSession,
    target: Child | Guardian,
    *,
    new_photo: str | None,
    new_pending: str | None,
) -> bool:
    assert target.id is not None
    swapped = await _swap(
        session,
        Child if isinstance(target, Child) else Guardian,
        target.id,
        photo=target.photo,
        pending=target.pending_photo,
        new_photo=new_photo,
        new_pending=new_pending,
    )
    if swapped:
        # The row was written with a Core UPDATE: keep the loaded object in step (as if
        # loaded, so the session does not write it again).
        set_committed_value(target, "photo", new_photo)
        set_committed_value(target, "pending_photo", new_pending)
    return swapped


async def _events(session: AsyncSession, target: Child | Guardian) -> list[BoardEvent]:
    """A child's photo state changed: one event for its installation's boards and its
    family's pages (approved: announcing is possible again). Guardians' photos are on no
    board."""
    if not isinstance(target, Child):
        return []
    assert target.id is not None
    seq = await next_seq(session, target.installation_id)
    return [
        BoardEvent(
            target.installation_id,
            seq,
            "child_photo",
            groups=(target.group_id,),
            children=(target.id,),
        )
    ]


async def submit(
    session: AsyncSession,
    *,
    principal: GuardianPrincipal,
    target_kind: str,
    target_id: int,
    data: bytes,
    photos_dir: Path,
    now: datetime,
) -> PhotoOutcome:
    """A parent sends a new photo of themself or of one of their children. It waits for the
    centre's approval (`pending_photo`), replacing a photo that was already waiting (its file
    is in `stale_files`). `now` is unused for now: photos keep no timestamp."""
    target = await target_for_guardian(session, principal, target_kind, target_id)
    jpeg = await asyncio.to_thread(process_image, data)
    name = await asyncio.to_thread(store, photos_dir, jpeg)
    previous = target.pending_photo
    try:
        events = await _events(session, target)
        swapped = await _apply(session, target, new_photo=target.photo, new_pending=name)
    except BaseException:
        remove_files(photos_dir, [name])
        raise
    if not swapped:
        remove_files(photos_dir, [name])
        raise PhotoConflict(_("Another photo was sent at the same time. Try again."))
    return PhotoOutcome(True, events, (previous,) if previous else (), new_file=name)


async def decide(
    session: AsyncSession,
    *,
    principal: StaffPrincipal | CenterPrincipal,
    target_kind: str,
    target_id: int,
    approve: bool,
    photos_dir: Path,
    now: datetime,
    expected_pending: str | None = None,
) -> PhotoOutcome:
    """The centre's answer to a pending photo (seed: the green "Oui"). Approved, it becomes
    the photo (the former one is deleted); refused, it is deleted and the photo stays. Either
    way nothing is pending any more, so announcing is possible again.

    `expected_pending`: the pending file the administrator saw; if a newer one arrived since,
    nothing is decided (PhotoConflict). Already decided elsewhere: `changed` is False.
    Files are removed by the caller after the commit (`stale_files`); `photos_dir` and `now`
    keep the signature of `submit`.
    """
    if isinstance(principal, StaffPrincipal) and not principal.is_admin:
        raise PhotoForbidden(_("This page is for the daycare's administrators."))
    target = await _load(session, target_kind, target_id, principal.organization_id)
    if isinstance(principal, CenterPrincipal) and not await may_view(session, principal, target):
        raise PhotoNotFound()  # another installation's family: as if it did not exist
    pending = target.pending_photo
    if pending is None:
        return PhotoOutcome(False)
    if expected_pending is not None and expected_pending != pending:
        raise PhotoConflict(
            _("A newer photo was sent in the meantime. Look at it before deciding.")
        )
    old_photo = target.photo
    new_photo: str | None
    stale: str | None
    if approve:
        new_photo, stale = pending, old_photo
    else:
        new_photo, stale = old_photo, pending
    events = await _events(session, target)
    if not await _apply(session, target, new_photo=new_photo, new_pending=None):
        # Another administrator decided in between: theirs stands. (The event number taken
        # rolls back with the caller's transaction if it does not commit; if it does, an
        # unused number only makes boards resync.)
        return PhotoOutcome(False, events)
    return PhotoOutcome(True, events, (stale,) if stale else ())


# -- seeing photos -------------------------------------------------------------------------


async def _guardian_in_installation(
    session: AsyncSession, guardian_id: int, installation_id: int
) -> bool:
    found = (
        await session.execute(
            select(
                exists().where(
                    col(ChildGuardian.guardian_id) == guardian_id,
                    col(ChildGuardian.child_id) == col(Child.id),
                    col(Child.installation_id) == installation_id,
                )
            )
        )
    ).scalar_one()
    return bool(found)


async def may_view(
    session: AsyncSession,
    viewer: StaffPrincipal | GuardianPrincipal | CenterPrincipal,
    target: Child | Guardian,
) -> bool:
    """Staff of the organization (admins everywhere, others in their installation), the
    child's guardians and authorized persons, or the guardian themself."""
    if target.organization_id != viewer.organization_id:
        return False
    assert target.id is not None
    if isinstance(viewer, StaffPrincipal | CenterPrincipal):
        if isinstance(viewer, StaffPrincipal) and viewer.is_admin:
            return True
        if viewer.installation_id is None:
            return False
        if isinstance(target, Child):
            return target.installation_id == viewer.installation_id
        return await _guardian_in_installation(session, target.id, viewer.installation_id)
    if isinstance(target, Guardian):
        return target.id == viewer.guardian_id
    return await _is_linked(session, target.id, viewer.guardian_id)


async def visible_photo(
    session: AsyncSession,
    viewers: Iterable[StaffPrincipal | GuardianPrincipal | CenterPrincipal],
    target_kind: str,
    target_id: int,
    *,
    pending: bool,
) -> str | None:
    """The file name of the photo (or the pending one) if one of `viewers` may see it."""
    target: Child | Guardian | None = None
    if target_kind == "child":
        target = await session.get(Child, target_id)
    elif target_kind == "guardian":
        target = await session.get(Guardian, target_id)
    if target is None:
        return None
    for viewer in viewers:
        if await may_view(session, viewer, target):
            return target.pending_photo if pending else target.photo
    return None


# -- the centre's list ---------------------------------------------------------------------


@dataclass(frozen=True)
class PendingPhoto:
    kind: TargetKind
    id: int
    name: str
    installation: str
    before_url: str | None  # None: no photo yet (the page shows a placeholder)
    after_url: str
    pending: str  # the waiting file, sent back with the decision


def photo_url(kind: str, target_id: int, *, pending: bool = False) -> str:
    return f"/photos/{kind}/{target_id}" + ("?pending=1" if pending else "")


async def pending_photos(
    session: AsyncSession, organization_id: int, installation_id: int | None = None
) -> list[PendingPhoto]:
    """Every photo awaiting approval in the organization (or one installation, for its centre
    account): children first, then adults."""
    items: list[PendingPhoto] = []
    children = (
        await session.execute(
            select(Child, Installation)
            .join(Installation, col(Installation.id) == col(Child.installation_id))
            .where(
                col(Child.organization_id) == organization_id,
                col(Child.pending_photo).is_not(None),
                col(Child.installation_id) == installation_id
                if installation_id is not None
                else true(),
            )
            .order_by(col(Child.id))
        )
    ).all()
    children = sort_by_name(
        children, key=lambda row: person_name(row[0].first_name, row[0].last_name)
    )
    for child, installation in children:
        assert child.id is not None and child.pending_photo is not None
        items.append(
            PendingPhoto(
                kind="child",
                id=child.id,
                name=child.full_name,
                installation=installation.name,
                before_url=photo_url("child", child.id) if child.photo else None,
                after_url=photo_url("child", child.id, pending=True),
                pending=child.pending_photo,
            )
        )
    guardians = (
        (
            await session.execute(
                select(Guardian)
                .where(
                    col(Guardian.organization_id) == organization_id,
                    col(Guardian.pending_photo).is_not(None),
                )
                .order_by(col(Guardian.id))
            )
        )
        .scalars()
        .all()
    )
    guardians = sort_by_name(guardians, key=lambda g: person_name(g.first_name, g.last_name))
    places: dict[int, list[str]] = {}
    if guardians:
        rows = (
            await session.execute(
                select(col(ChildGuardian.guardian_id), col(Installation.name))
                .join(Child, col(Child.id) == col(ChildGuardian.child_id))
                .join(Installation, col(Installation.id) == col(Child.installation_id))
                .where(col(ChildGuardian.guardian_id).in_([g.id for g in guardians]))
                .distinct()
            )
        ).all()
        for guardian_id, installation_name in sort_by_name(rows, key=lambda row: row[1]):
            places.setdefault(guardian_id, []).append(installation_name)
    for guardian in guardians:
        assert guardian.id is not None and guardian.pending_photo is not None
        if installation_id is not None and not await _guardian_in_installation(
            session, guardian.id, installation_id
        ):
            continue
        items.append(
            PendingPhoto(
                kind="guardian",
                id=guardian.id,
                name=guardian.full_name,
                installation=", ".join(places.get(guardian.id, [])),
                before_url=photo_url("guardian", guardian.id) if guardian.photo else None,
                after_url=photo_url("guardian", guardian.id, pending=True),
                pending=guardian.pending_photo,
            )
        )
    return items
