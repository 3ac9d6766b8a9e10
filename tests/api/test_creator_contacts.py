"""`/api/v1/accounts/{account_id}/contact`: a creator's contact, validated whole (a bad phone is
a 400 naming the field, in the contract's envelope, and changes nothing), stored as given and
shown masked, on creator accounts only, and only to the merchant twin that owns the account."""

import httpx

from hazina.bootstrap import Container
from tests.envelopes import assert_error
from tests.factories import other_merchant_headers
from tests.ledger.helpers import new_account

CONTACT = {"name": "Amina Juma", "email": "amina@example.com", "phone": "+255 712 345 678"}
SHOWN = {
    "object": "creator_contact",
    "name": "Amina Juma",
    "email": "a•••@example.com",
    "phone": "•••• 5678",
}


def shown(body: dict[str, str]) -> dict[str, str]:
    return {key: body[key] for key in SHOWN}


async def test_a_contact_is_saved_normalised_and_read_back_masked(
    client: httpx.AsyncClient,
) -> None:
    creator = await new_account(client)
    saved = await client.put(f"/api/v1/accounts/{creator}/contact", json=CONTACT)
    assert saved.status_code == 200, saved.text
    assert shown(saved.json()) == SHOWN
    assert saved.json()["account_id"] == creator
    read = await client.get(f"/api/v1/accounts/{creator}/contact")
    assert read.status_code == 200
    assert read.json() == saved.json()
    assert "712345678" not in read.text
    assert "amina@" not in read.text

    # A save replaces the whole contact: email only now.
    replaced = await client.put(
        f"/api/v1/accounts/{creator}/contact", json={"email": "asha@example.com"}
    )
    assert (replaced.json()["name"], replaced.json()["phone"]) == (None, None)
    assert replaced.json()["email"] == "a•••@example.com"

    assert (await client.delete(f"/api/v1/accounts/{creator}/contact")).status_code == 204
    assert_error(
        await client.get(f"/api/v1/accounts/{creator}/contact"),
        404,
        "NOT_FOUND_ERROR",
        "Contact not found",
    )


async def test_a_bad_contact_is_a_400_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    creator = await new_account(client)
    path = f"/api/v1/accounts/{creator}/contact"
    assert (await client.put(path, json=CONTACT)).status_code == 200
    before = (await client.get(path)).json()
    assert_error(
        await client.put(path, json={"phone": "0712 345 678"}),
        400,
        "BAD_REQUEST_ERROR",
        "phone: needs its country code (+…) or a known country",
    )
    assert_error(
        await client.put(path, json={"phone": "+255 12"}),
        400,
        "BAD_REQUEST_ERROR",
        "phone: is not a valid phone number",
    )
    assert_error(
        await client.put(path, json={"email": "amina.example.com"}),
        400,
        "BAD_REQUEST_ERROR",
        "email: is not an email address",
    )
    assert_error(
        await client.put(path, json={"name": "Amina"}),
        400,
        "BAD_REQUEST_ERROR",
        "a contact needs a phone or an email",
    )
    assert (await client.get(path)).json() == before


async def test_only_creator_accounts_take_a_contact(client: httpx.AsyncClient) -> None:
    wallet = await new_account(client, kind="customer")
    assert_error(
        await client.put(f"/api/v1/accounts/{wallet}/contact", json=CONTACT),
        400,
        "BAD_REQUEST_ERROR",
        f"Account {wallet} is a customer account: contacts are for creator accounts",
    )
    assert_error(
        await client.put("/api/v1/accounts/acct_nosuchaccount00/contact", json=CONTACT),
        404,
        "NOT_FOUND_ERROR",
        "Account not found",
    )


async def test_another_merchant_gets_404_and_changes_nothing(
    client: httpx.AsyncClient, container: Container
) -> None:
    creator = await new_account(client)
    path = f"/api/v1/accounts/{creator}/contact"
    assert (await client.put(path, json=CONTACT)).status_code == 200
    other = await other_merchant_headers(container)
    for answer in (
        await client.get(path, headers=other),
        await client.put(path, json={"email": "thief@example.com"}, headers=other),
        await client.delete(path, headers=other),
    ):
        assert_error(answer, 404, "NOT_FOUND_ERROR", "Account not found")
    assert shown((await client.get(path)).json()) == SHOWN
