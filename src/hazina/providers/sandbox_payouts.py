"""The sandbox payout provider (test mode): nothing leaves, and the outcome is chosen by the
destination, so a test or a demo can walk every ending on purpose.

| destination | outcome |
|---|---|
| phone `+255700000002`, or a bank account number ending `0002` | failed |
| phone `+255700000003`, or a bank account number ending `0003` | paid, then reversed |
| anything else | paid |

The fee is 1 % of the amount, rounded up to the currency's minor unit. It keeps no state: the
status query answers from the destination alone, so any process can ask it.
"""

from hazina.domain import ids
from hazina.domain.payouts import Bank, MobileMoney, PayoutQuote, PayoutStart
from hazina.domain.providers import ProviderAccess, ProviderEvent, ProviderEventKind

FAILING_PHONE = "+255700000002"
REVERSED_PHONE = "+255700000003"
FAILING_ACCOUNT_SUFFIX = "0002"
REVERSED_ACCOUNT_SUFFIX = "0003"
FAILURE_MESSAGE = "Sandbox: the recipient's account refused the payout"
REVERSAL_MESSAGE = "Sandbox: the payout was reversed by the recipient's network"


def _outcome(start: PayoutStart) -> ProviderEventKind:
    destination = start.destination
    if isinstance(destination, MobileMoney):
        failing = destination.phone == FAILING_PHONE
        reversed_ = destination.phone == REVERSED_PHONE
    else:
        failing = destination.account_number.endswith(FAILING_ACCOUNT_SUFFIX)
        reversed_ = destination.account_number.endswith(REVERSED_ACCOUNT_SUFFIX)
    if failing:
        return ProviderEventKind.PAYOUT_FAILED
    if reversed_:
        return ProviderEventKind.PAYOUT_REVERSED
    return ProviderEventKind.PAYOUT_PAID


def _report(start: PayoutStart, kind: ProviderEventKind) -> ProviderEvent:
    message = {
        ProviderEventKind.PAYOUT_FAILED: FAILURE_MESSAGE,
        ProviderEventKind.PAYOUT_REVERSED: REVERSAL_MESSAGE,
    }.get(kind)
    reference = ids.alphanumeric_reference(start.payout_id)
    return ProviderEvent(
        kind=kind,
        dedup_key=f"sandbox:{reference}:{kind.value}",
        raw_type="sandbox",
        raw_status=kind.value,
        payout_id=start.payout_id,
        provider_reference=reference,
        message=message,
    )


class SandboxPayouts:
    """Implements services.ports.PayoutProvider for test mode."""

    name = "sandbox"
    whole_units = False

    async def preview(self, access: ProviderAccess, start: PayoutStart) -> PayoutQuote:
        return PayoutQuote(fee=-(-start.amount // 100), channel="SANDBOX")

    async def create(self, access: ProviderAccess, start: PayoutStart) -> ProviderEvent:
        return _report(start, ProviderEventKind.PAYOUT_PROCESSING)

    async def fetch_payout(
        self, access: ProviderAccess, start: PayoutStart
    ) -> ProviderEvent | None:
        return _report(start, _outcome(start))

    async def banks(self, access: ProviderAccess) -> list[Bank]:
        return []  # any well-formed BIC
