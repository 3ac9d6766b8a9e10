"""`/api/v1/payment-links`: links to a hosted checkout, sent to their buyer over WhatsApp or
email. Creation honours Idempotency-Key and is rate-limited per merchant twin."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field, StrictInt

from hazina.api.dependencies import ContainerDep, IdempotencyKeyHeader, MerchantDep
from hazina.api.responses import json_body, stored_response
from hazina.api.schemas import Body, PageLimit, PageOffset, Text
from hazina.bootstrap import Container
from hazina.services.idempotency import idempotency_request
from hazina.services.links.requests import Customer, NewLink
from hazina.services.links.store import LinkContext, cancel_link, create_link, resend_link
from hazina.services.links.views import get_link, list_links
from hazina.services.merchants import MerchantIdentity
from hazina.services.throttle import Quota

router = APIRouter(prefix="/api/v1/payment-links")

ShortText = Annotated[Text, Field(max_length=255)]
Channels = Annotated[tuple[Annotated[Text, Field(max_length=20)], ...], Field(max_length=2)]


class CustomerIn(Body):
    name: ShortText | None = None
    phone: Annotated[Text | None, Field(max_length=32)] = None
    email: ShortText | None = None


class PaymentLinkCreate(Body):
    amount: StrictInt
    currency: Annotated[Text, Field(max_length=3)] = "INR"
    description: ShortText | None = None
    reference: ShortText | None = None
    methods: Annotated[list[Annotated[Text, Field(max_length=20)]], Field(max_length=20)] | None = (
        None
    )
    customer: CustomerIn | None = None
    expires_at: datetime | None = None
    send: Channels = ()

    def to_new_link(self) -> NewLink:
        customer = self.customer or CustomerIn()
        return NewLink(
            amount=self.amount,
            currency=self.currency,
            description=self.description,
            reference=self.reference,
            methods=None if self.methods is None else tuple(self.methods),
            customer=Customer(name=customer.name, phone=customer.phone, email=customer.email),
            expires_at=self.expires_at,
            send=tuple(self.send),
        )


class PaymentLinkSend(Body):
    # Empty: every channel the link has a contact for.
    send: Channels = ()


def link_context(container: Container, merchant: MerchantIdentity) -> LinkContext:
    settings = container.settings
    return LinkContext.for_merchant(
        container.providers.registry,
        merchant.id,
        merchant.livemode,
        base_url=settings.base_url,
        smtp_configured=settings.smtp_host is not None,
    )


@router.post("", status_code=201)
async def create_payment_link(
    body: PaymentLinkCreate,
    container: ContainerDep,
    merchant: MerchantDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    request = idempotency_request(
        idempotency_key, "POST /api/v1/payment-links", body.model_dump(mode="json")
    )
    limit, key = container.payment_link_limit, str(merchant.id)
    admitted: list[Quota] = []

    async def admit() -> None:
        # Counted per merchant twin in every process's one limiter (seed 001: 10 a minute),
        # only once the request is not a stored replay: a client retrying its key gets its 201.
        admitted.append(await limit.admit(key))

    stored = await create_link(
        container.db,
        link_context(container, merchant),
        body.to_new_link(),
        request,
        container.settings.idempotency_ttl,
        admit,
    )
    response = stored_response(stored)
    quota = admitted[0] if admitted else await limit.peek(key)
    response.headers.update(quota.headers())
    return response


@router.get("")
async def list_payment_links(
    container: ContainerDep,
    merchant: MerchantDep,
    limit: PageLimit = 10,
    offset: PageOffset = 0,
) -> dict[str, Any]:
    page = await list_links(container.db, merchant.id, container.settings.base_url, limit, offset)
    return page.body()


@router.get("/{link_id}")
async def get_payment_link(
    link_id: Text, container: ContainerDep, merchant: MerchantDep
) -> Response:
    return json_body(
        await get_link(container.db, merchant.id, link_id, container.settings.base_url)
    )


@router.post("/{link_id}/cancel")
async def cancel_payment_link(
    link_id: Text, container: ContainerDep, merchant: MerchantDep
) -> Response:
    return json_body(await cancel_link(container.db, link_context(container, merchant), link_id))


@router.post("/{link_id}/send")
async def send_payment_link(
    link_id: Text,
    container: ContainerDep,
    merchant: MerchantDep,
    body: PaymentLinkSend | None = None,
) -> Response:
    send = tuple(body.send) if body is not None else ()
    context = link_context(container, merchant)
    return json_body(await resend_link(container.db, context, link_id, send))
