"""The docs page's snippets, copied out of the browser and run as a merchant would run them."""

import asyncio
import json
import os
import signal
import sys

import httpx
import pytest
from playwright.async_api import Page

from tests.browser.conftest import PASSWORD, Site, log_in
from tests.e2e.servers import AUTH, free_port

pytestmark = pytest.mark.slow  # a real server and a browser


async def run_shell(script: str, env: dict[str, str], timeout: float = 30) -> str:  # noqa: ASYNC109
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", script, env=os.environ | env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, stdout
    return stdout.decode()


async def test_the_create_order_snippet_creates_an_order(page: Page, site: Site) -> None:
    await log_in(page, site, "test@example.com", PASSWORD)
    await page.goto(site.url + "/dashboard/docs")
    snippet = await page.get_by_test_id("code-snippet-create-order").inner_text()
    # The snippet's first line exports a placeholder: the merchant puts the secret there.
    script = snippet.replace("export HAZINA_API_SECRET='your API secret'", "")
    output = await run_shell(script, {"HAZINA_API_SECRET": AUTH["X-Api-Secret"]})
    order = json.loads(output)
    assert (order["amount"], order["currency"], order["status"]) == (50000, "INR", "created")


async def test_the_webhook_snippet_verifies_a_real_delivery(
    page: Page, site: Site, api: httpx.AsyncClient
) -> None:
    await log_in(page, site, "test@example.com", PASSWORD)
    await page.goto(site.url + "/dashboard/docs")
    snippet = await page.get_by_test_id("code-snippet-webhook").inner_text()
    port = free_port()
    script = snippet.replace("export WEBHOOK_SECRET='your webhook secret'", "").replace(
        "4000", str(port)
    )
    secret = (await api.get("/api/v1/webhooks/config")).json()["webhook_secret"]
    receiver = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script.replace("python3 -", f"{sys.executable} -u -"),
        env=os.environ | {"WEBHOOK_SECRET": secret},
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,  # bash and its python, killed together below
    )
    try:
        await api.put("/api/v1/webhooks/config", json={"webhook_url": f"http://127.0.0.1:{port}/"})
        output = receiver.stdout
        assert output is not None

        async def sent_and_verified() -> str:
            # The receiver may still be starting: send tests until one arrives.
            while True:
                await api.post("/api/v1/webhooks/test")
                try:
                    line: bytes = await asyncio.wait_for(output.readline(), 3)
                except TimeoutError:
                    continue
                return line.decode()

        line = await asyncio.wait_for(sent_and_verified(), 30)
        assert line.startswith('verified {"event":"webhook.test"'), line
    finally:
        await api.put("/api/v1/webhooks/config", json={"webhook_url": None})
        os.killpg(receiver.pid, signal.SIGKILL)
        await receiver.wait()
