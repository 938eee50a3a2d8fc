"""Customer search behind one interface, on both backends: substrings, short prefixes, hostility."""

import pytest

from helpdesk.services import customers
from helpdesk.services.context import Desk

HOSTILE = [
    '"',
    "'",
    '""',
    "*",
    "**",
    "a*",
    "NEAR",
    "NEAR(a b)",
    "OR",
    "AND",
    "NOT",
    "a OR b",
    "(",
    ")",
    "((",
    "name:x",
    "^",
    "-",
    "+",
    "{}",
    "\\",
    "%",
    "_",
    "%_%",
    "' OR 1=1 --",
    "; DROP TABLE customer; --",
    "\x00",
    "\x00abc",
    "\x1b[31mred",
    "\u202eevil",
    "\t\n\r",
    "x" * 10_000,
    "é" * 5000,
    "😀",
    "[/b]",
    "[@click=app.quit]x[/]",
    "  ",
    "",
]


@pytest.fixture
def people(desk: Desk) -> dict[str, int]:
    rows = {
        "maria": (
            "María José O'Neil-García",
            ["mj.oneil@example.org", "maria@gmx.example"],
            "Acme Widgets",
            "+34 600 111 222",
        ),
        "jo": ("Jo Smith", ["jsmith@example.com"], "Smithery Ltd", "+44 20 7946 0000"),
        "chen": ("Chen Wei", ["wei.chen@corp.example"], None, None),
    }
    return {
        key: customers.create(desk, name=n, emails=e, company=c, phone=p).id
        for key, (n, e, c, p) in rows.items()
    }


def ids(desk: Desk, text: str) -> set[int]:
    return {h.id for h in customers.find(desk, text)}


def test_substring_of_name_any_email_company_and_phone(desk: Desk, people: dict[str, int]) -> None:
    assert ids(desk, "neil") == {people["maria"]}
    assert ids(desk, "gmx.exa") == {people["maria"]}  # a secondary address
    assert ids(desk, "widg") == {people["maria"]}
    assert ids(desk, "7946") == {people["jo"]}
    assert ids(desk, "MITH") == {people["jo"]}  # case does not matter
    assert ids(desk, "example") == set(people.values())


def test_one_and_two_characters_match_word_starts(desk: Desk, people: dict[str, int]) -> None:
    assert ids(desk, "jo") == {people["jo"], people["maria"]}  # Jo, José
    assert ids(desk, "w") == {people["maria"], people["chen"]}  # Widgets, Wei
    assert ids(desk, "ch") == {people["chen"]}
    assert ids(desk, "ne") == {people["maria"]}  # O'Neil: a word starts after the apostrophe
    assert ids(desk, "ga") == {people["maria"]}  # O'Neil-García, gmx
    assert ids(desk, "ei") == set()  # inside Wei and Neil only


def test_several_tokens_must_all_match(desk: Desk, people: dict[str, int]) -> None:
    assert ids(desk, "smith jo") == {people["jo"]}
    assert ids(desk, "chen acme") == set()


def test_search_result_carries_primary_email(desk: Desk, people: dict[str, int]) -> None:
    [hit] = customers.find(desk, "garcía")
    assert hit.primary_email == "mj.oneil@example.org"


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t)[:30])
def test_hostile_input_returns_results_or_nothing(
    desk: Desk, people: dict[str, int], text: str
) -> None:
    found = customers.find(desk, text)
    assert isinstance(found, list)
    assert {h.id for h in found} <= set(people.values())


def test_index_follows_edits_and_new_addresses(desk: Desk, people: dict[str, int]) -> None:
    detail = customers.update(desk, customer_id=people["chen"], company="Lotus Trading")
    assert ids(desk, "lotus") == {people["chen"]}
    customers.add_email(
        desk,
        customer_id=people["chen"],
        address="wchen@lotus.example",
        expected_version=detail.version,
    )
    assert ids(desk, "wchen@") == {people["chen"]}
