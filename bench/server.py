"""The service as ``samsyn serve`` runs it (one uvicorn process), on a benchmark's store."""

from __future__ import annotations

import argparse

import uvicorn

from api.app import configure, create_app
from ledger.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema", help="PostgreSQL schema of the benchmark's store")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--signing-key-path", required=True,
                        help="the integrity log's key file, in the benchmark's own directory")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, demo_on_empty=False, log_format="json",
                        signing_key_path=args.signing_key_path)
    configure(settings)
    uvicorn.run(create_app(settings, schema=args.schema, freeze_heap=True), host="127.0.0.1",
                port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
