"""The contract's error envelope, asserted exactly."""

import httpx


def assert_error(response: httpx.Response, status: int, code: str, description: str) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"error": {"code": code, "description": description}}
