"""Parents' accounts: invitations by real email (an aiosmtpd server), activation and reset
links, sign-in with its rate limit, and the answers that never tell whether an email exists.

Expected texts are looked up in the French catalog the pages use, so these tests hold before
and after the strings are translated.
"""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.accounts.guardians import ACTIVATION_LIFETIME, RESET_LIFETIME
from server.accounts.passwords import MIN_PASSWORD_LENGTH
from server.app import create_app
from server.core import i18n
from server.core.clock import ManualClock
from server.core.models import (
    Guardian,
    OneTimeLink,
    OutboxMessage,
    Role,
    SignInSession,
)
from server.core.ratelimit import RateLimited, rate_limited_message
from server.core.security import hash_password, verify_password
from server.core.settings import Settings
from tests.helpers import T0, free_port, in_db, login, the_row
from tests.smtp import Inbox

DEMO_ORG = "Service de garde Les Érables"
PARENT = "parent@example.org"
INVITED = "parent0001@example.org"
NEW_PASSWORD = "un long mot de passe"


pytestmark = pytest.mark.real_smtp  # the app sends real email to the test's SMTP server


# -- helpers --------------------------------------------------------------------------------


def fr(message: str) -> str:
    with i18n.use_locale("fr_CA"):
        return i18n.gettext(message)


def text(response: object) -> str:
    return html.unescape(getattr(response, "text", ""))


def token_of(client: TestClient) -> str:
    if client.cookies.get("relais_csrf") is None:
        client.get("/parent/login")
    return client.cookies.get("relais_csrf") or ""


def guardian_id(database_url: str, address: str) -> int:
    async def find(session: AsyncSession) -> int:
        row = (
            await session.execute(select(Guardian).where(col(Guardian.email) == address))
        ).scalar_one()
        assert row.id is not None
        return row.id

    return in_db(database_url, find)


def guardian(database_url: str, address: str) -> Guardian:
    return the_row(database_url, Guardian, email=address)


def invite_as_director(client: TestClient, database_url: str, address: str = INVITED) -> int:
    login(client, "direction@example.org")
    gid = guardian_id(database_url, address)
    response = client.post(
        f"/admin/guardians/{gid}/invite",
        data={"csrf_token": token_of(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/admin/parents?invited={gid}"
    return gid


def choose_password(client: TestClient, link: str, password: str = NEW_PASSWORD, again: str = ""):
    return client.post(
        link,
        data={
            "csrf_token": token_of(client),
            "password": password,
            "password_confirmation": again or password,
        },
        follow_redirects=False,
    )


def parent_login(client: TestClient, address: str, password: str):
    return client.post(
        "/parent/login",
        data={"csrf_token": token_of(client), "email": address, "password": password},
        follow_redirects=False,
    )


def ask_for_link(client: TestClient, address: str, path: str = "/parent/forgot"):
    return client.post(path, data={"csrf_token": token_of(client), "email": address})


# -- invitations and activation -------------------------------------------------------------


def test_the_invitation_is_a_real_email_with_a_working_link(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    gid = invite_as_director(client, database_url)
    (mail,) = inbox.wait_for(1)
    assert mail.to == [INVITED]
    assert DEMO_ORG in mail.body
    # French first, then English.
    assert mail.body.index("Bonjour") < mail.body.index("Hello")
    link = mail.link()
    assert link.startswith("http://testserver/parent/activate/")
    page = client.get(link)
    assert page.status_code == 200
    assert 'name="password_confirmation"' in page.text
    assert 'autocomplete="new-password"' in page.text
    # The parents' page says it was sent, to whom.
    admin = client.get(f"/admin/parents?invited={gid}")
    assert INVITED in admin.text and 'class="notice"' in admin.text
    row = admin.text[admin.text.index(f'id="guardian-{gid}"') :]
    assert "24 nov. 2026 16:00" in row[: row.index("</tr>")]  # when, in the daycare's time


def test_activation_sets_the_password_and_signs_in(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    invite_as_director(client, database_url)
    link = inbox.wait_for(1)[0].link()
    response = choose_password(client, link)
    assert response.status_code == 303
    assert response.headers["location"] == "/parent"
    assert client.cookies.get("relais_parent")
    row = guardian(database_url, INVITED)
    assert row.account_state == "active"
    assert verify_password(row.password_hash, NEW_PASSWORD)

    # Signed in: the sign-in page sends the parent home; signed out, the new password works.
    assert client.get("/parent/login", follow_redirects=False).headers["location"] == "/parent"
    out = client.post("/parent/logout", data={"csrf_token": token_of(client)})
    assert out.url.path == "/parent/login"
    assert not client.cookies.get("relais_parent")
    assert parent_login(client, INVITED, NEW_PASSWORD).headers["location"] == "/parent"


@pytest.mark.parametrize(
    ("password", "again", "problem"),
    [
        ("court", "court", "Choose a password of at least {n} characters."),
        (INVITED.upper(), INVITED.upper(), "Your password cannot be your email address."),
        (
            NEW_PASSWORD,
            NEW_PASSWORD + "!",
            "The two passwords are not the same. Type the same password twice.",
        ),
    ],
)
def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(
    client: TestClient, database_url: str, inbox: Inbox, password: str, again: str, problem: str
) -> None:
    invite_as_director(client, database_url)
    link = inbox.wait_for(1)[0].link()
    response = choose_password(client, link, password, again)
    assert response.status_code == 400
    assert fr(problem).format(n=MIN_PASSWORD_LENGTH) in text(response)
    assert guardian(database_url, INVITED).account_state == "invited"
    assert choose_password(client, link).status_code == 303


def test_a_used_link_is_refused(client: TestClient, database_url: str, inbox: Inbox) -> None:
    invite_as_director(client, database_url)
    link = inbox.wait_for(1)[0].link()
    assert choose_password(client, link).status_code == 303
    hashed = guardian(database_url, INVITED).password_hash

    client.cookies.delete("relais_parent")
    again = client.get(link)
    assert again.status_code == 410
    assert fr(
        "This link has already been used: each link works only once. If you have chosen "
        "your password, sign in with it."
    ) in text(again)
    replay = choose_password(client, link, "un autre mot de passe")
    assert replay.status_code == 410
    assert "relais_parent" not in replay.cookies
    assert guardian(database_url, INVITED).password_hash == hashed


def test_an_expired_link_is_refused_and_offers_a_new_one(
    client: TestClient, database_url: str, inbox: Inbox, clock: ManualClock
) -> None:
    invite_as_director(client, database_url)
    old_link = inbox.wait_for(1)[0].link()
    clock.advance(ACTIVATION_LIFETIME + timedelta(minutes=1))

    page = client.get(old_link)
    assert page.status_code == 410
    expired = fr(
        "This link has expired, or a newer link has replaced it. Links work for a limited "
        "time, and only the latest one sent works."
    )
    assert expired != "" and expired.startswith("Ce lien")
    assert expired in text(page)
    assert 'action="/parent/activate/resend"' in page.text
    assert choose_password(client, old_link).status_code == 410

    sent = ask_for_link(client, INVITED, "/parent/activate/resend")
    assert sent.status_code == 200
    assert fr("If an account exists for this address, an email has just been sent.") in text(sent)
    new_link = inbox.wait_for(2)[1].link()
    assert new_link != old_link
    assert choose_password(client, new_link).status_code == 303
    assert guardian(database_url, INVITED).account_state == "active"


def test_a_second_invitation_voids_the_first_link(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    invite_as_director(client, database_url)
    invite_as_director(client, database_url)
    first, second = (mail.link() for mail in inbox.wait_for(2))
    assert first != second
    assert client.get(first).status_code == 410
    assert choose_password(client, first).status_code == 410
    assert choose_password(client, second).status_code == 303


def test_links_are_stored_as_hashes_only(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    invite_as_director(client, database_url)
    token = inbox.wait_for(1)[0].link().rsplit("/", 1)[1]

    async def stored(session: AsyncSession) -> list[str]:
        return list((await session.execute(select(col(OneTimeLink.token_hash)))).scalars())

    hashes = in_db(database_url, stored)
    assert hashes and token not in hashes


# -- forgotten password ---------------------------------------------------------------------


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    known = ask_for_link(client, PARENT)
    unknown = ask_for_link(client, "personne@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert fr("If an account exists for this address, an email has just been sent.") in text(known)
    # Only the real account got an email: a reset link, since it is already active.
    (mail,) = inbox.wait_for(1)
    assert mail.to == [PARENT]
    assert DEMO_ORG in mail.body
    link = mail.link("reset")

    # The link works once: new password, signed in, every other sign-in ended.
    assert parent_login(client, PARENT, "demo-relais-2026").status_code == 303
    assert choose_password(client, link).headers["location"] == "/parent"
    assert guardian(database_url, PARENT).account_state == "active"

    async def sessions(session: AsyncSession) -> int:
        count = select(func.count()).where(col(SignInSession.kind) == "parent")
        return int((await session.execute(count)).scalar_one())

    assert in_db(database_url, sessions) == 1
    client.cookies.delete("relais_parent")
    assert client.get(link).status_code == 410
    assert choose_password(client, link, "encore un autre mot").status_code == 410
    assert parent_login(client, PARENT, "demo-relais-2026").status_code == 400
    assert parent_login(client, PARENT, NEW_PASSWORD).status_code == 303


def test_a_reset_link_expires(
    client: TestClient, database_url: str, inbox: Inbox, clock: ManualClock
) -> None:
    ask_for_link(client, PARENT)
    link = inbox.wait_for(1)[0].link("reset")
    clock.advance(RESET_LIFETIME + timedelta(seconds=1))
    page = client.get(link)
    assert page.status_code == 410
    assert 'action="/parent/activate/resend"' in page.text


def test_forgot_password_for_an_invited_parent_sends_the_activation_link(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    ask_for_link(client, INVITED.upper())
    link = inbox.wait_for(1)[0].link("activate")
    assert choose_password(client, link).status_code == 303


def test_asking_for_links_is_rate_limited_per_email(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    for _attempt in range(5):
        assert ask_for_link(client, PARENT).status_code == 200
    refused = ask_for_link(client, PARENT)
    assert refused.status_code == 429
    with i18n.use_locale("fr_CA"):
        assert rate_limited_message(RateLimited(60)) in text(refused)
    # An unknown address is limited the same way: the limit tells nothing either.
    for _attempt in range(5):
        ask_for_link(client, "personne@example.org")
    assert ask_for_link(client, "personne@example.org").status_code == 429
    assert len(inbox.wait_for(5)) == 5


# -- sign-in ----------------------------------------------------------------------------------


def test_a_wrong_password_gets_one_generic_message(client: TestClient, database_url: str) -> None:
    answers = [
        parent_login(client, PARENT, "pas le bon mot de passe"),
        parent_login(client, "personne@example.org", "pas le bon mot de passe"),
        parent_login(client, INVITED, "pas le bon mot de passe"),  # no password yet
    ]
    message = fr("Wrong email or password.")
    for answer in answers:
        assert answer.status_code == 400
        assert message in text(answer)
        assert "relais_parent" not in answer.cookies


def test_after_five_wrong_passwords_a_new_browser_waits_a_minute(
    client: TestClient, database_url: str, clock: ManualClock
) -> None:
    for _attempt in range(5):
        assert parent_login(client, PARENT, "mauvais mot de passe").status_code == 400
    refused = parent_login(client, PARENT, "demo-relais-2026")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    with i18n.use_locale("fr_CA"):
        assert rate_limited_message(RateLimited(1)) in text(refused)
    assert "relais_parent" not in refused.cookies

    clock.advance(timedelta(minutes=1))
    assert parent_login(client, PARENT, "demo-relais-2026").headers["location"] == "/parent"


def test_sign_in_is_slowed_per_address_across_emails(client: TestClient) -> None:
    for n in range(20):
        parent_login(client, f"essai{n}@example.org", "mauvais mot de passe")
    assert parent_login(client, PARENT, "demo-relais-2026").status_code == 429


def test_the_demo_parent_signs_in(client: TestClient) -> None:
    response = parent_login(client, " Parent@Example.org ", "demo-relais-2026")
    assert response.status_code == 303
    assert response.headers["location"] == "/parent"
    assert client.cookies.get("relais_parent")


def test_pages_are_french_first_with_a_language_link(client: TestClient) -> None:
    for path in ("/parent/login", "/parent/forgot", "/parent/activate/nope"):
        page = client.get(path)
        assert '<html lang="fr-CA">' in page.text
        assert "?lang=en" in page.text
    assert 'autocomplete="current-password"' in client.get("/parent/login").text
    unknown = client.get("/parent/activate/nope")
    assert unknown.status_code == 404
    assert 'action="/parent/activate/resend"' in unknown.text
    assert "toast--show" not in unknown.text  # the explanation is on the page, not a toast


@pytest.mark.parametrize(
    "path",
    [
        "/parent/login",
        "/parent/logout",
        "/parent/forgot",
        "/parent/activate/resend",
        "/parent/activate/some-token",
        "/parent/reset/some-token",
    ],
)
def test_forms_without_the_csrf_token_are_refused(client: TestClient, path: str) -> None:
    client.get("/parent/login")
    data = {"email": PARENT, "password": "demo-relais-2026", "password_confirmation": "x"}
    assert client.post(path, data=data).status_code == 403


# -- the demo outbox ------------------------------------------------------------------------


def test_the_outbox_is_not_found_unless_demo(client: TestClient) -> None:
    assert client.get("/dev/outbox").status_code == 404


def test_the_demo_outbox_shows_emails_newest_first_with_clickable_links(
    settings: Settings, clock: ManualClock, database_url: str
) -> None:
    demo = dataclasses.replace(settings, smtp_url=None, demo=True)
    with TestClient(create_app(demo, clock=clock, background=False)) as client:
        ask_for_link(client, INVITED)
        clock.advance(timedelta(minutes=1))
        ask_for_link(client, PARENT)
        login(client, "direction@example.org")  # the director's, even in a demo
        page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert page.text.index(PARENT) < page.text.index(INVITED)
    links = re.findall(
        r'<a href="(http://testserver/parent/(?:activate|reset)/[\w-]+)">', page.text
    )
    assert len(links) == 4  # each email has its link twice: French, then English

    async def count(session: AsyncSession) -> int:
        return int((await session.execute(select(func.count(col(OutboxMessage.id))))).scalar_one())

    assert in_db(database_url, count) == 2


# -- /admin/parents: the parents' list and the invitation button ----------------------------


def test_the_admin_page_lists_parents_with_their_state(client: TestClient) -> None:
    login(client, "direction@example.org")
    page = client.get("/admin/parents")
    assert page.status_code == 200
    section = page.text[page.text.index('id="parents"') :]
    assert PARENT in section and INVITED in section
    assert fr("Active") in section and fr("Invited") in section
    assert section.count('action="/admin/guardians/') >= 80
    # Those who still have to activate come first.
    assert section.index(INVITED) < section.index(PARENT)


@pytest.mark.parametrize("email", ["educatrice@example.org", "accueil@example.org"])
def test_only_admins_send_invitations(
    client: TestClient, database_url: str, inbox: Inbox, email: str
) -> None:
    login(client, email)
    gid = guardian_id(database_url, INVITED)
    response = client.post(f"/admin/guardians/{gid}/invite", data={"csrf_token": token_of(client)})
    assert response.status_code == 403
    assert inbox.messages == []


def test_an_admin_cannot_invite_another_organizations_guardian(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    async def other_org(session: AsyncSession) -> int:
        org_id = demo.id_of(await demo.organization(session, "Garderie Bêta"))
        stranger = await demo.guardian(session, org_id, "B-G1", "Béa Tremblay", "bea@beta.example")
        admin = ("Direction Bêta", Role.ADMIN, hash_password("beta-secret-2026"), T0)
        await demo.staff(session, org_id, "direction@beta.example", *admin)
        return demo.id_of(stranger)

    stranger_id = in_db(database_url, other_org)
    login(client, "direction@example.org")
    token = {"csrf_token": token_of(client)}
    assert client.post(f"/admin/guardians/{stranger_id}/invite", data=token).status_code == 404
    assert client.post("/admin/guardians/999999/invite", data=token).status_code == 404
    assert client.post("/admin/guardians/abc/invite", data=token).status_code == 404
    # And the other organization's list does not show the demo's parents.
    login(client, "direction@beta.example", "beta-secret-2026")
    page = client.get("/admin/parents")
    assert "bea@beta.example" in page.text and PARENT not in page.text
    assert inbox.messages == []


def test_the_invitation_button_needs_the_csrf_token(
    client: TestClient, database_url: str, inbox: Inbox
) -> None:
    login(client, "direction@example.org")
    gid = guardian_id(database_url, INVITED)
    assert client.post(f"/admin/guardians/{gid}/invite").status_code == 403
    assert inbox.messages == []


def test_a_mail_server_that_is_down_is_reported_to_the_admin(
    settings: Settings, clock: ManualClock, database_url: str
) -> None:
    nobody_listens = dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    gid = guardian_id(database_url, INVITED)
    with TestClient(create_app(nobody_listens, clock=clock, background=False)) as client:
        login(client, "direction@example.org")
        response = client.post(
            f"/admin/guardians/{gid}/invite",
            data={"csrf_token": token_of(client)},
            follow_redirects=False,
        )
        assert response.headers["location"] == f"/admin/parents?invite_failed={gid}"
        page = client.get(response.headers["location"])
    assert 'class="form-error"' in page.text
