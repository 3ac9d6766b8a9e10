"""Fuzzing a running `hazina serve` from its own OpenAPI document, on SQLite and PostgreSQL.

Every operation gets a bounded number of generated requests, valid and invalid ones
(schemathesis's positive and negative modes), sent over the wire with the test merchant's keys:
none may answer 5xx, and every error must be the contract's envelope. The findings of a whole
run are collected and reported together rather than stopping (and shrinking) at the first.

The server runs without a worker: nothing fuzzed is ever sent anywhere (webhook URLs included).
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.core.result import Ok

from tests.e2e.servers import AUTH, HazinaProcess, open_hub

# Per operation and mode: ~40 operations x 2 modes x 15 stays within a few minutes on 2 cores.
EXAMPLES = 15
# Provider notifications are answered with the inbound event's receipt (what the provider
# needs), not with the merchant API's envelope; they are still held to "never 5xx" (a hook
# answers 5xx only when applying a verified notification failed, which fuzzing cannot forge).
RECEIPT_PATHS = ("/hooks/",)
Operation = APIOperation[Any, Any, Any, Any]


@pytest.fixture(params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[HazinaProcess]:
    async with open_hub(request.param, tmp_path) as hub:
        await hub.prepare()
        yield await hub.serve()


def problem_with(path: str, response: Response) -> str | None:
    """Why this answer breaks the contract, or None."""
    if response.status_code >= 500:
        return "a server error"
    if response.status_code < 400 or path.startswith(RECEIPT_PATHS):
        return None
    try:
        body: Any = response.json()
    except ValueError:
        return "an error that is not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if (
        not isinstance(error, dict)
        or set(body) != {"error"}
        or set(error) != {"code", "description"}
        or not all(isinstance(value, str) and value for value in error.values())
    ):
        return "an error outside the envelope"
    return None


def fuzz(operation: Operation, base_url: str, findings: list[str]) -> None:
    """Send EXAMPLES generated requests of each mode; record every answer that breaks the
    contract, one per operation, status and kind of problem."""
    seen: set[tuple[int, str]] = set()
    strategy = st.one_of(*[operation.as_strategy(mode) for mode in GenerationMode])

    @settings(
        max_examples=EXAMPLES * len(GenerationMode),
        deadline=None,
        database=None,
        derandomize=True,  # the same requests every run: a finding can be reproduced
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Case[Operation]) -> None:
        response = case.call(base_url=base_url, headers=AUTH, timeout=30)
        problem = problem_with(case.path, response)
        if problem is not None and (response.status_code, problem) not in seen:
            seen.add((response.status_code, problem))
            findings.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}, {problem}: "
                f"{response.text_lossy()[:300]!r}\n"
                f"  reproduce: {case.as_curl_command(headers=AUTH)}"
            )

    send()


@pytest.mark.slow
async def test_no_operation_answers_5xx_or_an_error_outside_the_envelope(
    server: HazinaProcess,
) -> None:
    assert server.url is not None
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    findings: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the document itself must be valid
        fuzz(result.ok(), server.url, findings)
        operations += 1

    assert operations >= 30  # the document really lists the API
    assert findings == [], "\n".join(findings)
