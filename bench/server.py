"""The service as ``samsyn serve`` runs it (one uvicorn process, or ``--workers N`` of them as
``samsyn serve --workers N`` runs them), on a benchmark's store; or, with ``--split``, as a
deployment that runs the read models and the integrity log in processes of their own runs
it: the service (``--role serve --split``), ``samsyn project`` (``--role project``) and
``samsyn seal`` (``--role seal``)."""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI

from api.app import configure, create_app, prepare_store
from api.cli import WORKER_START_SECONDS
from ledger.integrity.sealer import seal_forever
from ledger.settings import Settings
from projections.runner import run_forever

#: How the parent hands the benchmark's PostgreSQL schema to its worker processes.
SCHEMA_VARIABLE = "SAMSYN_BENCH_SCHEMA"


def worker_app() -> FastAPI:
    """One worker's service (uvicorn calls this in each worker process): the settings from
    the environment the parent set, the schema from :data:`SCHEMA_VARIABLE`."""
    settings = Settings()
    configure(settings)
    return create_app(settings, schema=os.environ.get(SCHEMA_VARIABLE) or None,
                      freeze_heap=True)


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
    parser.add_argument("--workers", type=int, default=1,
                        help="service processes (role serve, PostgreSQL only)")
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, demo_on_empty=False, log_format="json",
                        signing_key_path=args.signing_key_path,
                        projections_in_process=not args.split, seal_in_process=not args.split)
    configure(settings)
    if args.role == "project":
        run_forever(settings, schema=args.schema)
    elif args.role == "seal":
        seal_forever(settings, schema=args.schema)
    elif args.workers > 1:
        prepare_store(settings, schema=args.schema)
        os.environ.update({
            "SAMSYN_DATABASE_URL": settings.database_url, "SAMSYN_DEMO_ON_EMPTY": "false",
            "SAMSYN_LOG_FORMAT": "json", "SAMSYN_SIGNING_KEY_PATH": args.signing_key_path,
            "SAMSYN_PROJECTIONS_IN_PROCESS": str(not args.split).lower(),
            "SAMSYN_SEAL_IN_PROCESS": str(not args.split).lower(),
            SCHEMA_VARIABLE: args.schema or ""})
        uvicorn.run("bench.server:worker_app", factory=True, workers=args.workers,
                    timeout_worker_healthcheck=WORKER_START_SECONDS, host="127.0.0.1",
                    port=args.port, log_config=None, access_log=False)
    else:
        uvicorn.run(create_app(settings, schema=args.schema, freeze_heap=True),
                    host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
