"""HTTP routes, one module per audience."""

MAX_POSITION = 2**63 - 1
"""The largest ledger position (and tree size) a route accepts: a signed 64-bit integer,
what both stores can compare against. A larger number is refused with 422, never sent on
to the database."""
