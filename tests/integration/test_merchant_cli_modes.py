"""`hazina merchant create` prints both key pairs, and `hazina merchant roll-secret --live` gives
the live key a new secret that authenticates over the API (SQLite: the commands run their own
event loop, as they do from a shell)."""

import asyncio
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hazina.bootstrap import start
from hazina.cli import main
from tests.conftest import TEST_MASTER_KEYS, http_client, make_settings

LINE = re.compile(r"^(?P<label>[a-z ]+):\s+(?P<value>\S+)$", re.MULTILINE)


def printed(result: Result) -> dict[str, str]:
    return {match["label"]: match["value"] for match in LINE.finditer(result.stdout)}


async def statuses(url: str, *pairs: tuple[str, str]) -> list[tuple[int, bool | None]]:
    """For each key pair: the status of listing payments and the mode of an order it creates."""
    container = await start(make_settings(url))
    found: list[tuple[int, bool | None]] = []
    try:
        async with http_client(container) as client:
            for key, secret in pairs:
                headers = {"X-Api-Key": key, "X-Api-Secret": secret}
                listed = await client.get("/api/v1/payments", headers=headers)
                livemode = None
                if listed.status_code == 200:
                    order = await client.post(
                        "/api/v1/orders", json={"amount": 100}, headers=headers
                    )
                    assert order.status_code == 201, order.text
                    livemode = order.json()["livemode"]
                found.append((listed.status_code, livemode))
    finally:
        await container.close()
    return found


def test_create_prints_both_key_pairs_and_roll_secret_replaces_the_live_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # away from any .env
    url = f"sqlite+aiosqlite:///{tmp_path / 'hazina.db'}"
    env = {"HAZINA_DATABASE_URL": url, "HAZINA_MASTER_KEYS": TEST_MASTER_KEYS}
    runner = CliRunner()

    created = runner.invoke(
        main, ["merchant", "create", "--name", "X", "--email", "x@example.com"], env=env
    )
    assert created.exit_code == 0, created.output
    values = printed(created)
    assert re.fullmatch(r"key_test_[A-Za-z0-9_-]+", values["test api key"])
    assert re.fullmatch(r"secret_test_[A-Za-z0-9_-]+", values["test api secret"])
    assert re.fullmatch(r"key_live_[A-Za-z0-9_-]+", values["live api key"])
    assert re.fullmatch(r"secret_live_[A-Za-z0-9_-]+", values["live api secret"])
    assert values["test merchant id"] != values["live merchant id"]
    assert values["account id"] == values["test merchant id"]
    assert values["dashboard"] == "x@example.com"

    test_pair = (values["test api key"], values["test api secret"])
    old_live = (values["live api key"], values["live api secret"])
    assert asyncio.run(statuses(url, test_pair, old_live)) == [(200, False), (200, True)]

    rolled = runner.invoke(
        main, ["merchant", "roll-secret", "--email", "x@example.com", "--live"], env=env
    )
    assert rolled.exit_code == 0, rolled.output
    roll = printed(rolled)
    assert roll["api key"] == values["live api key"]
    assert re.fullmatch(r"secret_live_[A-Za-z0-9_-]+", roll["api secret"])
    assert roll["api secret"] != values["live api secret"]

    new_live = (values["live api key"], roll["api secret"])
    # The new live secret works and acts in live mode; the old one is refused; the test key
    # pair is untouched; the new live secret does not open the test key.
    assert asyncio.run(
        statuses(url, new_live, old_live, test_pair, (values["test api key"], roll["api secret"]))
    ) == [(200, True), (401, None), (200, False), (401, None)]

    listed = runner.invoke(main, ["merchant", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert values["test api key"] in listed.stdout
    assert values["live api key"] in listed.stdout
    assert roll["api secret"] not in listed.stdout


def test_roll_secret_without_live_replaces_only_the_test_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'hazina.db'}"
    env = {"HAZINA_DATABASE_URL": url, "HAZINA_MASTER_KEYS": TEST_MASTER_KEYS}
    runner = CliRunner()
    created = runner.invoke(
        main, ["merchant", "create", "--name", "Y", "--email", "y@example.com"], env=env
    )
    assert created.exit_code == 0, created.output
    values = printed(created)
    rolled = runner.invoke(main, ["merchant", "roll-secret", "--email", "y@example.com"], env=env)
    assert rolled.exit_code == 0, rolled.output
    roll = printed(rolled)
    assert roll["api key"] == values["test api key"]
    assert roll["api secret"].startswith("secret_test_")
    pairs = (
        (values["test api key"], roll["api secret"]),
        (values["test api key"], values["test api secret"]),
        (values["live api key"], values["live api secret"]),
    )
    assert asyncio.run(statuses(url, *pairs)) == [(200, False), (401, None), (200, True)]

    unknown = runner.invoke(
        main, ["merchant", "roll-secret", "--email", "nobody@example.com", "--live"], env=env
    )
    assert unknown.exit_code == 1
    assert "No merchant with email nobody@example.com" in unknown.output
