"""Photo changes (issue 3, item 6): the image checks, a parent's upload, the centre's
approval, and who may see a photo.

Pictures are made with Pillow in the test; the HTTP tests go through the app like a phone and
an administrator's browser would. A parent's session is a row written directly in the
database (the parent sign-in page is not needed to test photos).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.core.i18n import _, use_locale
from server.core.models import (
    Child,
    Guardian,
    Installation,
)
from server.core.settings import Settings
from server.photos import service as photos
from server.photos.service import MAX_BYTES, PhotoRejected, process_image
from tests.helpers import (
    B_ADMIN,
    B_PARENT,
    PASSWORD,
    T0,
    beta,
    csrf,
    in_db,
    login,
    send_announcement,
    sign_in_as,
)

GPS_IFD = 0x8825
MAKE = 0x010F
ORIENTATION = 0x0112
PARENT = "parent@example.org"
ADMIN = "direction@example.org"
GRANDMA = "grandmaman@example.org"


def says(message: str) -> str:
    """A refusal as the person reads it (French first: the default language)."""
    with use_locale("fr_CA"):
        return _(message)


def french(message: str) -> str:
    """How a French page shows a source string (the catalog's translation, HTML-escaped)."""
    with use_locale("fr_CA"):
        return str(escape(_(message)))


# -- pictures --------------------------------------------------------------------------------


def jpeg(size: tuple[int, int] = (300, 200), exif: Image.Exif | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    out = io.BytesIO()
    if exif is None:
        image.save(out, "JPEG", quality=90)
    else:
        image.save(out, "JPEG", quality=90, exif=exif, comment=b"taken at home")
    return out.getvalue()


def phone_exif() -> Image.Exif:
    """What a phone writes: maker, orientation (6: turn 90° clockwise) and where it was."""
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[ORIENTATION] = 6
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (46.0, 48.0, 50.0)
    gps[3] = "W"
    gps[4] = (71.0, 12.0, 30.0)
    return exif


def png_of_size(width: int, height: int) -> bytes:
    """A 1-bit grey PNG written by hand, streamed through zlib: a bomb of billions of pixels
    is a few kilobytes on disk and never exists in the test's memory."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)
    data = b"".join(compressor.compress(row) for _row in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- pure image handling --------------------------------------------------------------------


def test_location_and_all_metadata_are_removed_and_the_photo_is_upright() -> None:
    original = jpeg((300, 200), phone_exif())
    before = Image.open(io.BytesIO(original))
    assert dict(before.getexif().get_ifd(GPS_IFD))[2] == (46.0, 48.0, 50.0)  # the test's premise
    assert before.getexif()[MAKE] == "PhoneMaker"

    result = process_image(original)

    after = decoded(result)
    assert after.format == "JPEG" and after.mode == "RGB"
    assert after.size == (200, 300)  # orientation 6 applied to the pixels
    assert dict(after.getexif()) == {}
    assert "exif" not in after.info and "comment" not in after.info
    assert "icc_profile" not in after.info
    assert b"PhoneMaker" not in result and b"taken at home" not in result


def test_png_with_transparency_becomes_an_rgb_jpeg_on_white() -> None:
    image = Image.new("RGBA", (120, 80), (0, 0, 0, 0))
    image.paste((10, 120, 60, 255), (60, 0, 120, 80))
    out = io.BytesIO()
    image.save(out, "PNG")

    after = decoded(process_image(out.getvalue()))

    assert after.format == "JPEG" and after.mode == "RGB" and after.size == (120, 80)
    r, g, b = after.getpixel((10, 40))  # type: ignore[misc]
    assert min(r, g, b) > 240  # transparent became white, not black
    r, g, b = after.getpixel((100, 40))  # type: ignore[misc]
    assert g > 90 and r < 40


@pytest.mark.parametrize("kind", ["JPEG", "WEBP", "PNG"])
def test_large_pictures_are_scaled_down_to_1024_px(kind: str) -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 1500), (20, 90, 160)).save(out, kind)

    after = decoded(process_image(out.getvalue()))

    assert after.format == "JPEG"
    assert after.size == (1024, 512)


def test_a_phone_jpeg_with_extra_pictures_mpo_is_accepted() -> None:
    """Many phones write MPO: a JPEG followed by more pictures (depth, HDR gain map)."""
    out = io.BytesIO()
    main, extra = Image.new("RGB", (2000, 1500), (200, 0, 0)), Image.new("RGB", (200, 150))
    main.save(out, "MPO", save_all=True, append_images=[extra])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"  # the test's premise

    after = decoded(process_image(out.getvalue()))

    assert after.format == "JPEG" and after.size == (1024, 768)
    red, green, _blue = after.getpixel((10, 10))  # type: ignore[misc]
    assert red > 180 and green < 30  # the first picture, not the extra one


def test_small_pictures_keep_their_size() -> None:
    assert decoded(process_image(jpeg((640, 480)))).size == (640, 480)


def test_a_text_file_named_jpg_is_refused() -> None:
    with pytest.raises(PhotoRejected) as refused:
        process_image(b"Bonjour! Ceci n'est pas une photo.\n" * 20)
    assert refused.value.status == 422
    assert refused.value.reason == says(
        "This file is not a photo Relais can read. Send a JPEG, PNG or WebP picture."
    )


def test_an_accepted_name_does_not_make_an_accepted_type() -> None:
    out = io.BytesIO()
    Image.new("RGB", (40, 40)).save(out, "GIF")
    with pytest.raises(PhotoRejected):
        process_image(out.getvalue())


def test_a_truncated_jpeg_is_refused() -> None:
    whole = jpeg((800, 600))
    with pytest.raises(PhotoRejected) as refused:
        process_image(whole[: len(whole) // 2])
    assert refused.value.reason == says(
        "This picture is damaged or incomplete. Take it again or choose another one."
    )


@pytest.mark.parametrize(
    "size",
    [
        (20000, 20000),  # 400 MP: Pillow's own decompression-bomb limit
        (8000, 6000),  # 48 MP: above our 40 MP cap, below Pillow's
    ],
)
def test_decompression_bombs_are_refused_without_decoding(size: tuple[int, int]) -> None:
    bomb = png_of_size(*size)
    assert len(bomb) < 100_000
    with pytest.raises(PhotoRejected) as refused:
        process_image(bomb)
    assert refused.value.reason == says(
        "This picture has too many pixels to be processed. Send a smaller one."
    )


def test_more_than_5_mb_is_refused_before_decoding() -> None:
    # A valid JPEG followed by padding a decoder would ignore: only the size can refuse it.
    padded = jpeg((64, 64)).ljust(MAX_BYTES + 1, b"\0")
    process_image(padded[:MAX_BYTES])  # the same picture one byte under: accepted
    with pytest.raises(PhotoRejected) as refused:
        process_image(padded)
    assert refused.value.status == 413
    assert refused.value.reason == says("This photo is too large: send a picture of at most 5 MB.")


def test_store_writes_the_file_under_a_new_random_name(tmp_path: Path) -> None:
    data = process_image(jpeg())
    first = photos.store(tmp_path / "photos", data)
    second = photos.store(tmp_path / "photos", data)

    assert first != second
    assert len(first) <= 64 and first.endswith(".jpg")
    assert (tmp_path / "photos" / first).read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == sorted([first, second])
    with pytest.raises(ValueError):
        photos.photo_path(tmp_path, "../secret_key")


# -- the world the HTTP tests use -------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    lea: int
    noah: int
    parent: int
    other_child: int  # another family's child, same installation
    other_parent: int
    bou_child: int  # a child of the other installation (Pavillon des Bouleaux)
    grandma: int  # an authorized person for Léa and Noah
    b_child: int  # the other organization's child
    b_parent: int


@pytest.fixture
def family(database_url: str) -> Family:
    async def create(session: AsyncSession) -> Family:
        async def child(external_id: str) -> Child:
            return (
                await session.execute(select(Child).where(col(Child.external_id) == external_id))
            ).scalar_one()

        async def guardian(external_id: str) -> Guardian:
            return (
                await session.execute(
                    select(Guardian).where(col(Guardian.external_id) == external_id)
                )
            ).scalar_one()

        lea, noah, other, bou = (
            await child("C-LEA"),
            await child("C-NOAH"),
            await child("C0001"),
            await child("C0043"),
        )
        parent, other_parent = await guardian("G-TREMBLAY"), await guardian("G0001")
        other_parent.account_state = "active"  # signed in on their phone too
        session.add(other_parent)
        grandma = await demo.guardian(
            session,
            lea.organization_id,
            "A-GRANDMA",
            "Jeanne Tremblay",
            GRANDMA,
            (lea, noah),
            account_state="active",
            kind="authorized",
            invited_by_id=parent.id,
        )
        b = await beta(session, ("Zacharie Bêta",), present=(), account_state="active")
        return Family(
            lea=demo.id_of(lea),
            noah=demo.id_of(noah),
            parent=demo.id_of(parent),
            other_child=demo.id_of(other),
            other_parent=demo.id_of(other_parent),
            bou_child=demo.id_of(bou),
            grandma=demo.id_of(grandma),
            b_child=demo.id_of(b.children[0]),
            b_parent=demo.id_of(b.parent),
        )

    return in_db(database_url, create)


def sign_in_parent(client: TestClient, database_url: str, email: str = PARENT) -> str:
    """A parent's phone: only the parent cookie (and a CSRF cookie), no staff session."""
    client.cookies.clear()
    sign_in_as(client, database_url, "parent", email, lifetime=T0.replace(year=T0.year + 1) - T0)
    return csrf(client)["X-CSRF-Token"]


def sign_in_staff(client: TestClient, email: str, password: str | None = None) -> str:
    client.cookies.clear()
    login(client, email, password or PASSWORD)
    return csrf(client)["X-CSRF-Token"]


def send_photo(
    client: TestClient,
    token: str,
    kind: str,
    target_id: int,
    data: bytes,
    *,
    htmx: bool = False,
    filename: str = "photo.jpg",
) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/parent/photos/{kind}/{target_id}",
        data={"csrf_token": token},
        files={"photo": (filename, data, "image/jpeg")},
        headers=headers,
        follow_redirects=False,
    )


async def target_row(session: AsyncSession, kind: str, target_id: int) -> Child | Guardian:
    target: Child | Guardian | None
    if kind == "child":
        target = await session.get(Child, target_id)
    else:
        target = await session.get(Guardian, target_id)
    assert target is not None
    return target


def row(database_url: str, kind: str, target_id: int) -> tuple[str | None, str | None]:
    """(photo, pending_photo) of a child or guardian, read from the database."""

    async def load(session: AsyncSession) -> tuple[str | None, str | None]:
        target = await target_row(session, kind, target_id)
        return target.photo, target.pending_photo

    return in_db(database_url, load)


def sent_by_julie(
    client: TestClient, database_url: str, kind: str, target_id: int
) -> tuple[str | None, str | None]:
    """Julie signs in on her phone (`client`) and sends a new photo of a child or of herself:
    the row after it, (photo, pending_photo)."""
    parent = sign_in_parent(client, database_url)
    send_photo(client, parent, kind, target_id, jpeg())
    return row(database_url, kind, target_id)


def sent_twice(client: TestClient, database_url: str, lea: int) -> tuple[str | None, str | None]:
    """Julie sends a photo of Léa, then another before any decision: the waiting file after
    the first, and after the second."""
    first = sent_by_julie(client, database_url, "child", lea)[1]
    send_photo(client, csrf(client)["X-CSRF-Token"], "child", lea, jpeg((500, 500)))
    return first, row(database_url, "child", lea)[1]


def set_photo(database_url: str, settings: Settings, kind: str, target_id: int) -> str:
    """Give a child or guardian an approved photo, as if approved earlier."""
    name = photos.store(settings.photos_dir, process_image(jpeg((100, 100))))

    async def save(session: AsyncSession) -> None:
        target = await target_row(session, kind, target_id)
        target.photo = name
        session.add(target)

    in_db(database_url, save)
    return name


def stored(settings: Settings) -> set[str]:
    folder = settings.photos_dir
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def event_seq(database_url: str, child_id: int) -> int:
    async def load(session: AsyncSession) -> int:
        child = await session.get(Child, child_id)
        assert child is not None
        inst = await session.get(Installation, child.installation_id)
        assert inst is not None
        return inst.event_seq

    return in_db(database_url, load)


def decide(client: TestClient, token: str, kind: str, target_id: int, verdict: str) -> Any:
    return client.post(
        f"/admin/photos/{kind}/{target_id}/{verdict}",
        data={"csrf_token": token},
        follow_redirects=False,
    )


# -- a parent's upload ------------------------------------------------------------------------


def test_a_new_photo_of_lea_waits_for_approval_and_blocks_announcing(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    seq = event_seq(database_url, family.lea)
    token = sign_in_parent(client, database_url)

    response = send_photo(client, token, "child", family.lea, jpeg((300, 200), phone_exif()))

    assert response.status_code == 303 and response.headers["location"] == "/parent"
    photo, pending = row(database_url, "child", family.lea)
    assert photo is None and pending is not None
    assert stored(settings) == {pending}
    kept = decoded((settings.photos_dir / pending).read_bytes())
    assert kept.size == (200, 300) and dict(kept.getexif()) == {}
    assert event_seq(database_url, family.lea) == seq + 1  # boards hear of it

    refused = send_announcement(client, eta="16:30")
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "photo_pending"


def test_htmx_upload_answers_with_the_orange_banner(
    client: TestClient, database_url: str, family: Family
) -> None:
    token = sign_in_parent(client, database_url)

    response = send_photo(client, token, "child", family.noah, jpeg(), htmx=True)

    assert response.status_code == 200
    assert french("Awaiting approval by the daycare") in response.text
    assert "banner--pending" in response.text
    assert f'id="photo-form-child-{family.noah}"' in response.text  # it replaces the form
    assert row(database_url, "child", family.noah)[1] is not None


def test_a_second_upload_replaces_the_waiting_one(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    first, second = sent_twice(client, database_url, family.lea)

    assert second is not None and second != first
    assert stored(settings) == {second}  # the first waiting file is gone


def test_a_guardian_changes_their_own_photo_and_cannot_announce_meanwhile(
    client: TestClient, database_url: str, family: Family
) -> None:
    seq = event_seq(database_url, family.lea)
    token = sign_in_parent(client, database_url)

    response = send_photo(client, token, "guardian", family.parent, jpeg())

    assert response.status_code == 303
    assert row(database_url, "guardian", family.parent)[1] is not None
    assert event_seq(database_url, family.lea) == seq  # no board shows guardians
    assert send_announcement(client, eta="16:30").json()["reason"] == "photo_pending"


@pytest.mark.parametrize(
    "target",
    [
        ("child", "other_child"),  # another family's child
        ("guardian", "other_parent"),  # another parent
        ("child", "b_child"),  # another organization's child
        ("child", None),  # an id that does not exist
        ("teacher", "lea"),  # not a kind of photo
    ],
)
def test_another_familys_photo_cannot_be_changed(
    client: TestClient,
    database_url: str,
    settings: Settings,
    family: Family,
    target: tuple[str, str | None],
) -> None:
    kind, who = target
    target_id = getattr(family, who) if who else 999_999
    token = sign_in_parent(client, database_url)

    response = send_photo(client, token, kind, target_id, jpeg())

    assert response.status_code == 404
    assert french("Not found, or not yours to see.") in response.text
    assert stored(settings) == set()
    if who and kind != "teacher":
        assert row(database_url, kind, target_id) == (None, None)


def test_an_authorized_person_changes_only_their_own_photo(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    token = sign_in_parent(client, database_url, GRANDMA)

    refused = send_photo(client, token, "child", family.lea, jpeg())
    assert refused.status_code == 403
    assert french("Only the child's parents can change the child's photo.") in refused.text
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()

    own = send_photo(client, token, "guardian", family.grandma, jpeg())
    assert own.status_code == 303
    assert row(database_url, "guardian", family.grandma)[1] is not None


def test_a_50_mb_upload_is_refused_before_reading_it(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    token = sign_in_parent(client, database_url)
    chunks_read = 0

    def body() -> Iterator[bytes]:
        nonlocal chunks_read
        for _megabyte in range(50):
            chunks_read += 1
            yield b"\0" * (1024 * 1024)

    response = client.post(
        f"/parent/photos/child/{family.lea}",
        content=body(),
        headers={
            "Content-Length": str(50 * 1024 * 1024),
            "Content-Type": "multipart/form-data; boundary=relais",
            "X-CSRF-Token": token,
        },
        follow_redirects=False,
    )

    assert response.status_code == 413
    assert french("This photo is too large: send a picture of at most 5 MB.") in response.text
    assert chunks_read == 0  # not a byte of the body was read
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()


def test_the_size_is_also_enforced_while_reading(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    """A body larger than it says (or of unknown length) is cut off at the limit. Here a
    small valid photo followed by 6 MB the multipart parser would skip: only counting the
    bytes as they arrive can refuse it."""
    token = sign_in_parent(client, database_url)
    boundary = "relais"
    multipart = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="photo"; filename="photo.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + jpeg((64, 64))
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "X-CSRF-Token": token,
        "HX-Request": "true",
    }
    trailing = b"\r\n" * (3 * 1024 * 1024)

    response = client.post(
        f"/parent/photos/child/{family.lea}",
        content=multipart + trailing,
        headers={**headers, "Content-Length": "1000"},  # a lie
        follow_redirects=False,
    )

    assert response.status_code == 413
    assert french("This photo is too large: send a picture of at most 5 MB.") in response.text
    assert f'id="photo-form-child-{family.lea}"' in response.text  # htmx: the form again
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()
    # The same request without the excess is accepted: the limit is what refused it.
    accepted = client.post(
        f"/parent/photos/child/{family.lea}",
        content=multipart + trailing[: 64 * 1024],
        headers=headers,
        follow_redirects=False,
    )
    assert accepted.status_code == 200, accepted.text
    assert row(database_url, "child", family.lea)[1] is not None


def test_a_photo_just_over_5_mb_is_refused(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    token = sign_in_parent(client, database_url)
    response = send_photo(
        client, token, "child", family.lea, jpeg((64, 64)).ljust(MAX_BYTES + 10, b"\0")
    )
    assert response.status_code == 413
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()


@pytest.mark.parametrize("htmx", [False, True])
def test_a_text_file_renamed_jpg_gets_a_readable_refusal(
    client: TestClient, database_url: str, settings: Settings, family: Family, htmx: bool
) -> None:
    token = sign_in_parent(client, database_url)

    response = send_photo(
        client, token, "child", family.lea, b"name,phone\nLea,555-0100\n", htmx=htmx
    )

    assert response.status_code == 422
    message = french("This file is not a photo Relais can read. Send a JPEG, PNG or WebP picture.")
    assert message in response.text
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()


def test_an_upload_without_a_photo_or_without_the_csrf_token_changes_nothing(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    token = sign_in_parent(client, database_url)

    empty = client.post(
        f"/parent/photos/child/{family.lea}",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert empty.status_code == 422
    assert french("Choose a photo to send.") in empty.text

    forged = client.post(
        f"/parent/photos/child/{family.lea}",
        files={"photo": ("photo.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert row(database_url, "child", family.lea) == (None, None)
    assert stored(settings) == set()


def test_an_upload_needs_a_signed_in_parent(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    token = sign_in_staff(client, ADMIN)  # staff are not parents
    response = send_photo(client, token, "child", family.lea, jpeg())
    assert response.status_code == 303
    assert response.headers["location"] == "/parent/login"
    assert stored(settings) == set()


# -- the centre's answer ----------------------------------------------------------------------


def test_the_admin_page_lists_pending_photos_with_before_and_after(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    sign_in_staff(client, ADMIN)
    empty = client.get("/admin")
    assert french("Pending approval") in empty.text
    assert french("No photo awaiting approval.") in empty.text

    set_photo(database_url, settings, "child", family.lea)
    parent = sign_in_parent(client, database_url)
    send_photo(client, parent, "child", family.lea, jpeg())
    send_photo(client, parent, "guardian", family.parent, jpeg())
    sign_in_staff(client, ADMIN)

    page = client.get("/admin").text

    assert french("No photo awaiting approval.") not in page
    assert f'id="photo-approval-child-{family.lea}"' in page
    assert f'id="photo-approval-guardian-{family.parent}"' in page
    assert "Léa Tremblay" in page and "Julie Tremblay" in page and "Pavillon des Érables" in page
    assert f'src="/photos/child/{family.lea}"' in page  # before
    assert f'src="/photos/child/{family.lea}?pending=1"' in page  # after
    assert french("No photo yet") in page  # Julie had no photo before
    assert f'action="/admin/photos/child/{family.lea}/approve"' in page
    assert f">{french('Yes')}</button>" in page and f">{french('No')}</button>" in page


def test_approving_makes_the_new_photo_current_and_announcing_works_again(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    old = set_photo(database_url, settings, "child", family.lea)
    new = sent_by_julie(client, database_url, "child", family.lea)[1]
    seq = event_seq(database_url, family.lea)
    token = sign_in_staff(client, ADMIN)

    response = decide(client, token, "child", family.lea, "approve")

    assert response.status_code == 303 and response.headers["location"] == "/admin"
    assert row(database_url, "child", family.lea) == (new, None)
    assert stored(settings) == {new}  # the former photo's file is deleted
    assert old not in stored(settings)
    assert event_seq(database_url, family.lea) == seq + 1
    assert french("No photo awaiting approval.") in client.get("/admin").text
    announced = send_announcement(client, eta="16:30")
    assert announced.status_code == 201, announced.text


def test_refusing_keeps_the_former_photo_and_allows_announcing(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    old = set_photo(database_url, settings, "child", family.lea)
    sent_by_julie(client, database_url, "child", family.lea)
    token = sign_in_staff(client, ADMIN)

    response = decide(client, token, "child", family.lea, "refuse")

    assert response.status_code == 303
    assert row(database_url, "child", family.lea) == (old, None)
    assert stored(settings) == {old}  # the refused file is deleted
    assert send_announcement(client, eta="16:30").status_code == 201


def test_a_guardian_photo_is_approved_the_same_way(
    client: TestClient, database_url: str, family: Family
) -> None:
    new = sent_by_julie(client, database_url, "guardian", family.parent)[1]
    token = sign_in_staff(client, ADMIN)

    assert decide(client, token, "guardian", family.parent, "approve").status_code == 303

    assert row(database_url, "guardian", family.parent) == (new, None)
    assert send_announcement(client, eta="16:30").status_code == 201


@pytest.mark.parametrize("email", ["educatrice@example.org", "accueil@example.org"])
def test_only_administrators_decide(
    client: TestClient, database_url: str, settings: Settings, family: Family, email: str
) -> None:
    pending = sent_by_julie(client, database_url, "child", family.lea)
    token = sign_in_staff(client, email)

    response = decide(client, token, "child", family.lea, "approve")

    assert response.status_code == 403
    assert row(database_url, "child", family.lea) == pending
    assert send_announcement(client, eta="16:30").json()["reason"] == "photo_pending"


def test_another_organizations_admin_cannot_decide(
    client: TestClient, database_url: str, family: Family
) -> None:
    pending = sent_by_julie(client, database_url, "child", family.lea)
    token = sign_in_staff(client, B_ADMIN, "beta-secret-2026")

    assert decide(client, token, "child", family.lea, "approve").status_code == 404
    assert row(database_url, "child", family.lea) == pending
    assert "Léa" not in client.get("/admin").text


def test_a_decision_on_a_photo_replaced_meanwhile_is_not_applied(
    client: TestClient, database_url: str, family: Family
) -> None:
    seen, newer = sent_twice(client, database_url, family.lea)  # the second after the admin looked
    token = sign_in_staff(client, ADMIN)

    response = client.post(
        f"/admin/photos/child/{family.lea}/approve",
        data={"csrf_token": token, "pending": seen or ""},
        follow_redirects=False,
    )

    assert response.status_code == 409
    assert row(database_url, "child", family.lea) == (None, newer)


def test_deciding_twice_is_harmless(
    client: TestClient, database_url: str, settings: Settings, family: Family
) -> None:
    new = sent_by_julie(client, database_url, "child", family.lea)[1]
    token = sign_in_staff(client, ADMIN)

    assert decide(client, token, "child", family.lea, "approve").status_code == 303
    assert decide(client, token, "child", family.lea, "refuse").status_code == 303  # late click

    assert row(database_url, "child", family.lea) == (new, None)
    assert stored(settings) == {new}


def test_deciding_needs_the_csrf_token(
    client: TestClient, database_url: str, family: Family
) -> None:
    pending = sent_by_julie(client, database_url, "child", family.lea)
    sign_in_staff(client, ADMIN)

    response = client.post(f"/admin/photos/child/{family.lea}/approve", follow_redirects=False)

    assert response.status_code == 403
    assert row(database_url, "child", family.lea) == pending


# -- who sees a photo ---------------------------------------------------------------------------


def fetch(client: TestClient, kind: str, target_id: int, pending: bool = False) -> Any:
    return client.get(f"/photos/{kind}/{target_id}" + ("?pending=1" if pending else ""))


@pytest.fixture
def with_photos(database_url: str, settings: Settings, family: Family) -> dict[str, str]:
    """Approved photos for Léa, a child of the other installation, Julie (Léa's parent) and
    the other organization's child; and a new photo of Léa waiting for approval."""
    names = {
        "lea": set_photo(database_url, settings, "child", family.lea),
        "bou": set_photo(database_url, settings, "child", family.bou_child),
        "parent": set_photo(database_url, settings, "guardian", family.parent),
        "other_parent": set_photo(database_url, settings, "guardian", family.other_parent),
        "b_child": set_photo(database_url, settings, "child", family.b_child),
    }
    pending = photos.store(settings.photos_dir, process_image(jpeg((50, 80))))

    async def wait(session: AsyncSession) -> None:
        lea = await session.get(Child, family.lea)
        assert lea is not None
        lea.pending_photo = pending
        session.add(lea)

    in_db(database_url, wait)
    names["lea_pending"] = pending
    return names


def test_photos_are_served_privately_as_jpeg(
    client: TestClient,
    database_url: str,
    settings: Settings,
    family: Family,
    with_photos: dict[str, str],
) -> None:
    sign_in_staff(client, ADMIN)

    response = fetch(client, "child", family.lea)

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert "no-store" in response.headers["cache-control"]
    assert "private" in response.headers["cache-control"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (settings.photos_dir / with_photos["lea"]).read_bytes()
    waiting = fetch(client, "child", family.lea, pending=True)
    assert waiting.content == (settings.photos_dir / with_photos["lea_pending"]).read_bytes()
    assert fetch(client, "child", family.noah).status_code == 404  # no photo yet


# (who, kind, target, may see it)
SERVING = [
    ("admin", "child", "lea", True),
    ("admin", "child", "bou_child", True),
    ("admin", "guardian", "parent", True),
    ("reception", "child", "lea", True),
    ("reception", "guardian", "parent", True),  # Julie's children are at Érables
    ("reception", "child", "bou_child", False),  # another installation
    ("educator", "child", "lea", True),
    ("educator", "child", "bou_child", False),
    ("parent", "child", "lea", True),
    ("parent", "guardian", "parent", True),
    ("parent", "guardian", "other_parent", False),
    ("parent", "child", "bou_child", False),
    ("grandma", "child", "lea", True),
    ("grandma", "guardian", "parent", False),
    ("other_parent", "child", "lea", False),
    ("other_org_admin", "child", "lea", False),
    ("other_org_admin", "child", "b_child", True),
    ("other_org_parent", "child", "lea", False),
    ("other_org_parent", "child", "b_child", True),
    ("anonymous", "child", "lea", False),
]
STAFF = {
    "admin": (ADMIN, None),
    "reception": ("accueil@example.org", None),
    "educator": ("educatrice@example.org", None),
    "other_org_admin": (B_ADMIN, "beta-secret-2026"),
}
PARENTS = {
    "parent": PARENT,
    "grandma": GRANDMA,
    "other_parent": "parent0001@example.org",
    "other_org_parent": B_PARENT,
}


@pytest.mark.parametrize(("who", "kind", "target", "allowed"), SERVING)
def test_who_may_see_a_photo(
    client: TestClient,
    database_url: str,
    family: Family,
    with_photos: dict[str, str],
    who: str,
    kind: str,
    target: str,
    allowed: bool,
) -> None:
    if who in STAFF:
        sign_in_staff(client, *STAFF[who])
    elif who in PARENTS:
        sign_in_parent(client, database_url, PARENTS[who])
    else:
        client.cookies.clear()
    target_id = getattr(family, target)

    for pending in (False, True) if target == "lea" else (False,):
        response = fetch(client, kind, target_id, pending)
        if allowed:
            assert response.status_code == 200, (who, kind, target, pending)
            assert response.headers["content-type"] == "image/jpeg"
        else:
            assert response.status_code == 404, (who, kind, target, pending)
            assert response.headers["content-type"].startswith("text/html")
