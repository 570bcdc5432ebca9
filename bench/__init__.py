"""Benchmarks of the Samsyn ledger and the synthetic ledgers they run on."""
