"""Disabling a staff account ends that person's open board at once."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e


def test_disabling_an_educator_ends_her_open_board(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    educator = new_tablet("educatrice@example.org", sound=False)
    expect(educator.locator("#conn")).to_have_class("conn conn--live")

    director = new_tablet("direction@example.org", path="/admin/staff", sound=False)
    row = director.locator("tr.staff-row", has_text="educatrice@example.org")
    row.locator("button[value=disable]").click()
    expect(director.locator("tr.staff-row", has_text="educatrice@example.org")).to_have_class(
        re.compile(r"staff-row--disabled")
    )

    # The board says the session ended, then lands on the sign-in page.
    expect(educator.locator("#conn")).to_have_class("conn conn--ended", timeout=10000)
    expect(educator).to_have_url(re.compile(r"/login\?next="), timeout=10000)
    expect(educator.locator("input[name=password]")).to_be_visible()

    # Enabled again, she can sign back in.
    director.locator("tr.staff-row", has_text="educatrice@example.org").locator(
        "button[value=enable]"
    ).click()
    again = new_tablet("educatrice@example.org", sound=False)
    expect(again.locator("#conn")).to_have_class("conn conn--live")
