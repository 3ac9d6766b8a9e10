"""The double-entry ledger (#14): accounts, transfers of entries that sum to zero, balances
kept as columns, two-phase reservations, and the postings settlement makes.

Modules: `postings` (the one way entries are written), `accounts` (sub-accounts and the
merchant's system accounts), `charges` (what settlement posts for payments and refunds, and the
release of pending money), `holds` (two-phase reserve / post / void, for payouts), `check`
(recomputing every balance), `views` (one serialiser per resource), `queries` (lists).
"""
