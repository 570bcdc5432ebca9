"""The aggregates: one module per concept of the domain, each with its events and rules."""
