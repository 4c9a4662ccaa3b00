"""Names in dictionary order (server/core/collation.py): accents and case do not push a name
after Z, in French and in English, and the lists people read use that order."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.core.collation import name_key_text, person_name, sort_by_name
from server.core.i18n import use_locale
from server.core.models import Group
from server.roster.queries import groups
from tests.helpers import demo_ids, in_db, organization_id, portal_login


@pytest.mark.parametrize("locale", ["fr_CA", "en"])
def test_accents_and_case_sort_among_their_letters(locale: str) -> None:
    names = ["Zoé", "Édouard", "Boucher", "Bélanger", "émile", "Eve", "Adèle"]
    with use_locale(locale):
        ordered = sort_by_name(names, key=lambda name: name)
    assert ordered == ["Adèle", "Bélanger", "Boucher", "Édouard", "émile", "Eve", "Zoé"]


def test_people_sort_by_family_name_then_given_name() -> None:
    people = [("Adam", "Royer"), ("Léa", "Roy"), ("Zoé", "Écuyer"), ("Noah", "Roy")]
    ordered = sort_by_name(people, key=lambda p: person_name(*p))
    assert ordered == [("Zoé", "Écuyer"), ("Léa", "Roy"), ("Noah", "Roy"), ("Adam", "Royer")]


def test_the_text_key_orders_as_the_names_do() -> None:
    # A board inserts a row arriving live by comparing these keys as JavaScript strings.
    names = ["Zoé", "Édouard", "Bélanger", "Boucher"]
    assert sorted(names, key=name_key_text) == ["Bélanger", "Boucher", "Édouard", "Zoé"]
    assert all(key.isascii() for key in map(name_key_text, names))


def test_the_centres_student_list_is_in_dictionary_order(
    client: TestClient, database_url: str
) -> None:
    organization = organization_id(database_url)

    async def enrol(session: AsyncSession) -> None:
        lutins = (
            await session.scalars(select(Group).where(col(Group.external_id) == "ERA-LUT"))
        ).one()
        for n, name in enumerate(["Zoé Zwicky", "Édouard Émond", "Anna Boucher", "Marc Bélanger"]):
            child = await demo.child(session, lutins, organization, f"X{n}", name)
            child.pickup_enabled = True
            session.add(child)

    in_db(database_url, enrol)
    assert portal_login(client) == 303
    text = client.get("/portal/students").text
    where = {name: text.index(name) for name in ["Bélanger", "Boucher", "Émond", "Zwicky"]}
    assert where["Bélanger"] < where["Boucher"] < where["Émond"] < where["Zwicky"]


def test_a_boards_groups_are_in_dictionary_order(database_url: str) -> None:
    bouleaux = demo_ids(database_url)["BOU"]

    async def names(session: AsyncSession) -> list[str]:
        return [group.name for group in await groups(session, [bouleaux])]

    # « Les Étoiles » among the E's, not after « Les Renards ».
    assert in_db(database_url, names) == ["Les Castors", "Les Étoiles", "Les Renards"]
