"""The one password policy: the same rules for a parent's, a staff member's, a centre
account's and the first administrator's password, wherever it is chosen."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.accounts import passwords
from server.accounts.admins import create_admin
from server.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem
from server.core import i18n
from server.core.settings import Settings
from server.roster.integration import NewAccountForm, new_account_problems

EMAIL = "personne@example.org"


@pytest.fixture(autouse=True)
def french_again() -> Iterator[None]:
    """Each test may pick a language; the next one starts in French, as the app does."""
    yield
    i18n.set_locale(i18n.DEFAULT_LOCALE)


def test_one_minimum_the_strictest_of_those_there_were() -> None:
    assert MIN_PASSWORD_LENGTH == 12


@pytest.mark.parametrize(
    ("password", "confirmation", "field", "message"),
    [
        ("a" * (MIN_PASSWORD_LENGTH - 1),) * 2
        + ("password", "Choose a password of at least {n} characters."),
        ("a" * (MAX_PASSWORD_LENGTH + 1),) * 2
        + ("password", "That password is too long: {n} characters at most."),
        (EMAIL.upper(), EMAIL.upper(), "password", "Your password cannot be your email address."),
        (
            "un long mot de passe",
            "un long mot de passe!",
            "confirmation",
            "The two passwords are not the same. Type the same password twice.",
        ),
    ],
)
def test_what_the_policy_refuses_and_where_it_says_so(
    password: str, confirmation: str, field: str, message: str
) -> None:
    i18n.set_locale("en")
    problem = password_problem(password, confirmation, EMAIL)
    assert problem is not None
    assert problem.field == field
    n = MIN_PASSWORD_LENGTH if "least" in message else MAX_PASSWORD_LENGTH
    assert problem.message == message.format(n=n)
    assert str(problem) == problem.message


def test_what_the_policy_accepts() -> None:
    assert password_problem("a" * MIN_PASSWORD_LENGTH, "a" * MIN_PASSWORD_LENGTH, EMAIL) is None
    long = "b" * MAX_PASSWORD_LENGTH
    assert password_problem(long, long, EMAIL) is None


def test_the_message_is_translated_french_first() -> None:
    i18n.set_locale("fr_CA")
    problem = password_problem("court", "court", EMAIL)
    assert problem is not None and str(MIN_PASSWORD_LENGTH) in problem.message
    assert "least" not in problem.message


def test_a_centre_account_created_from_the_daycare_side_follows_it() -> None:
    short = "a" * (MIN_PASSWORD_LENGTH - 1)
    form = NewAccountForm(display_name="Centre", email=EMAIL, password=short, confirmation=short)
    refused = passwords.password_problem(short, short, EMAIL)
    assert refused is not None
    assert new_account_problems(form) == {"password": refused.message}
    ok = "a" * MIN_PASSWORD_LENGTH
    form = NewAccountForm(display_name="Centre", email=EMAIL, password=ok, confirmation=ok + "!")
    assert set(new_account_problems(form)) == {"password_confirmation"}


def test_the_first_administrator_follows_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    settings = Settings(database_url=url, secret_key="s" * 32, var_dir=tmp_path)
    with pytest.raises(ValueError, match=str(MIN_PASSWORD_LENGTH)):
        asyncio.run(create_admin(settings, EMAIL, "Direction", "a" * 11, "Org"))
