"""`/api/v1/provider-accounts`: a merchant's own credentials per provider, write-only.

PUT replaces the account's credentials as a whole (an optional field left out is removed) and
answers 200 with the masked account; DELETE answers 204. Generic gateways live at
`/generic/{name}`: PUT registers one (201, with its generated `signing_secret`, shown this once)
or changes its redirect URL template (200); `POST …/rotate-secret` replaces the secret.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from hazina.api.dependencies import ContainerDep, MerchantDep
from hazina.api.schemas import Body, Text
from hazina.domain.gateways import GENERIC, MAX_TEMPLATE_LENGTH
from hazina.services import provider_accounts
from hazina.services.gateways import accounts as gateways

router = APIRouter(prefix="/api/v1/provider-accounts")

# Who changed a credential, as the audit log names it.
ACTOR = "api"

Name = Annotated[Text, Field(max_length=64)]
Secret = Annotated[Text, Field(max_length=provider_accounts.MAX_SECRET_LENGTH)]


class AccountPut(Body):
    # The key's own mode when left out; another mode is refused.
    mode: Annotated[Text | None, Field(max_length=10)] = None
    credentials: Annotated[dict[Name, Secret], Field(max_length=20)]


@router.put("/{provider}")
async def put_account(
    provider: str, body: AccountPut, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await provider_accounts.put_account(
        container.db,
        container.providers.vault,
        merchant.id,
        provider,
        body.mode,
        body.credentials,
        ACTOR,
        livemode=merchant.livemode,
        base_url=container.settings.base_url,
        catalogue=container.providers.registry.credential_catalogue(),
    )


class GatewayPut(Body):
    # https://pay.example/checkout?ref={payment_id}&amount={amount}&currency={currency}&return={return_url}
    redirect_url_template: Annotated[Text, Field(max_length=MAX_TEMPLATE_LENGTH)]


@router.put("/generic/{name}")
async def put_gateway(
    name: str, body: GatewayPut, container: ContainerDep, merchant: MerchantDep, response: Response
) -> dict[str, Any]:
    created, gateway = await gateways.put_gateway(
        container.db,
        container.providers.vault,
        merchant.id,
        name,
        body.redirect_url_template,
        livemode=merchant.livemode,
        actor=ACTOR,
        base_url=container.settings.base_url,
    )
    response.status_code = 201 if created else 200
    return gateway


@router.post("/generic/{name}/rotate-secret")
async def rotate_gateway_secret(
    name: str, container: ContainerDep, merchant: MerchantDep
) -> dict[str, Any]:
    return await gateways.rotate_secret(
        container.db,
        container.providers.vault,
        merchant.id,
        name,
        ACTOR,
        container.settings.base_url,
    )


@router.delete("/generic/{name}", status_code=204)
async def delete_gateway(name: str, container: ContainerDep, merchant: MerchantDep) -> None:
    await provider_accounts.delete_account(container.db, merchant.id, GENERIC, ACTOR, name=name)


@router.get("")
async def list_accounts(container: ContainerDep, merchant: MerchantDep) -> dict[str, Any]:
    accounts = await provider_accounts.list_accounts(
        container.db,
        merchant.id,
        container.settings.base_url,
        container.providers.registry.credential_catalogue(),
    )
    return {"data": accounts}


@router.delete("/{provider}", status_code=204)
async def delete_account(provider: str, container: ContainerDep, merchant: MerchantDep) -> None:
    await provider_accounts.delete_account(container.db, merchant.id, provider, ACTOR)
