"""Samsyn's read side: read models folded from the ledger, live and as of any date."""
