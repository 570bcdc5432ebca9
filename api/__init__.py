"""Samsyn's HTTP service and command line: registrar, auditor and dashboard entry points."""
