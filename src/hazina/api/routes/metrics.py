"""`/metrics`: the Prometheus text format, behind a bearer token.

With HAZINA_METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>` (401
otherwise). Without one, development serves it openly (it listens on loopback only) and
production does not serve it at all (404): the figures show traffic, merchants' activity and
failure rates, which a public address must not.
"""

import hmac

from fastapi import APIRouter, Request, Response

from hazina.api.dependencies import ContainerDep
from hazina.observability import metrics
from hazina.services import status

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def scrape(request: Request, container: ContainerDep) -> Response:
    settings = container.settings
    token = settings.metrics_token
    if token is None and settings.is_production:
        return Response(status_code=404)
    if token is not None:
        given = request.headers.get("authorization", "").encode()
        # Compared in constant time: the token is a credential like an API secret.
        if not hmac.compare_digest(given, f"Bearer {token}".encode()):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    body = metrics.exposition(await status.queue_depth(container.db))
    return Response(body, media_type=metrics.CONTENT_TYPE)
