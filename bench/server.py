"""The service as ``samsyn serve`` runs it (one uvicorn process), on a benchmark's store; or,
with ``--split``, as a deployment that runs the read models and the integrity log in
processes of their own runs it: the service (``--role serve --split``), ``samsyn project``
(``--role project``) and ``samsyn seal`` (``--role seal``)."""

from __future__ import annotations

import argparse

import uvicorn

from api.app import configure, create_app
from ledger.integrity.sealer import seal_forever
from ledger.settings import Settings
from projections.runner import run_forever


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema", help="PostgreSQL schema of the benchmark's store")
    parser.add_argument("--port", type=int, help="the service's port (role serve)")
    parser.add_argument("--signing-key-path", required=True,
                        help="the integrity log's key file, in the benchmark's own directory")
    parser.add_argument("--role", choices=("serve", "project", "seal"), default="serve")
    parser.add_argument("--split", action="store_true",
                        help="the service leaves read models and sealing to other processes")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, demo_on_empty=False, log_format="json",
                        signing_key_path=args.signing_key_path,
                        projections_in_process=not args.split, seal_in_process=not args.split)
    configure(settings)
    if args.role == "project":
        run_forever(settings, schema=args.schema)
    elif args.role == "seal":
        seal_forever(settings, schema=args.schema)
    else:
        uvicorn.run(create_app(settings, schema=args.schema, freeze_heap=True),
                    host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
