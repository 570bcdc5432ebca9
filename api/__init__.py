"""Samsyn's HTTP service and command line: FastAPI routes, accounts, the dashboard, the CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("samsyn")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0.0.0+unknown"
