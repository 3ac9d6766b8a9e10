"""Payouts (#15): money leaving a ledger account for a phone or a bank account.

Modules: `context` (what payouts need beyond the database), `accounting` (the ledger moves: reserve,
post, void, give back), `views` (the one serialiser), `creation` (create and cancel), `settlement`
(applying a provider's report: the one path every webhook, status answer and start takes),
`progress` (the `process_payout` job: start once, then ask until final), `schedules` (automatic
payouts of an account's available balance).
"""
