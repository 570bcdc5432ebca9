"""The one settings object: every knob Samsyn reads from the environment (prefix ``SAMSYN_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.limits import MAX_BODY_BYTES, MAX_IMPORT_BYTES


class Settings(BaseSettings):
    """Samsyn's configuration, read from ``SAMSYN_*`` environment variables or a ``.env`` file.

    The database is a single URL so that one variable switches the backend:
    ``sqlite:///path/to/file.sqlite3`` (the embedded default) or
    ``postgresql://user@host:port/dbname`` (production).
    """

    model_config = SettingsConfigDict(env_prefix="SAMSYN_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///samsyn.sqlite3",
        description="sqlite:///FILE (default, relative to the working directory) "
        "or postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME",
    )
    db_connect_timeout: int = Field(
        default=3, ge=1, description="Seconds to wait for a database connection."
    )
    db_attempts: int = Field(
        default=2,
        ge=1,
        le=10,
        description="How often a storage call is tried on a lost connection before giving up. "
        "Each try waits at most db_connect_timeout, so a request fails within about "
        "db_attempts x db_connect_timeout seconds when the database is unreachable.",
    )
    db_pool_size: int = Field(default=8, ge=1, description="PostgreSQL connections kept open.")
    db_lock_timeout: int = Field(
        default=5, ge=0, description="Seconds an append waits for the ledger's table lock."
    )
    db_statement_timeout: float = Field(
        default=10, gt=0,
        description="Seconds one SQL statement may run on PostgreSQL before it is cancelled "
        "(a write cancelled so is answered 503 and writes nothing).",
    )
    db_idle_in_transaction_timeout: int = Field(
        default=30, ge=1,
        description="Seconds a PostgreSQL connection may sit idle inside a transaction "
        "before the server ends it (so no stalled process holds a lock for long).",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP service listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the HTTP service uses.")
    demo_on_empty: bool = Field(
        default=True,
        description="Load the bundled real history when the service starts on an empty ledger.",
    )
    projections_in_process: bool = Field(
        default=True,
        description="Keep the read models up to date inside the service; turn off when "
        "'samsyn project' runs as its own process.",
    )
    anonymous_read: bool = Field(
        default=True,
        description="Let anyone read the read models without a token (decisions are public "
        "records); who recorded what stays hidden from anonymous readers.",
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="auto: console on a terminal, JSON otherwise."
    )
    log_level: str = Field(default="INFO", description="Python logging level name.")
    recorder_name: str = Field(
        default="system", description="Who is named as recorder for entries the CLI appends."
    )
    signing_key_path: Path | None = Field(
        default=None,
        description="File holding the integrity log's Ed25519 signing key: made on first "
        "start (mode 0600), never stored in the database. Default: <SQLite file>.signing-key "
        "beside the ledger, or ./samsyn-signing.key with PostgreSQL.",
    )
    log_origin: str | None = Field(
        default=None,
        description="The integrity log's name: first line of every checkpoint and the key's "
        "name. Default: the existing key's name, or samsyn/<hostname> for a new key.",
    )
    seal_in_process: bool = Field(
        default=True,
        description="Seal the ledger into the integrity log inside the service; turn off when "
        "another process seals (any process may: sealing takes a lock).",
    )
    checkpoint_interval: float = Field(
        default=60.0, gt=0,
        description="Seconds between signed checkpoints while the ledger grows.",
    )
    witnesses: list[str] = Field(
        default_factory=list,
        description="Witnesses asked to cosign every checkpoint, each 'URL WITNESS_VKEY' "
        "(in the environment: a JSON list of strings).",
    )
    witness_quorum: int | None = Field(
        default=None, ge=0,
        description="How many witnesses must cosign for a checkpoint to count as attested "
        "(default: all of them).",
    )
    witness_timeout: float = Field(
        default=2.0, gt=0, description="Seconds to wait for one witness's answer."
    )
    leader_poll_interval: float = Field(
        default=1.0, gt=0, le=10,
        description="Seconds between a standby's attempts to take over the projector or the "
        "sealer (PostgreSQL), and between a leader's checks that it still leads.",
    )
    read_database_url: str = Field(
        default="",
        description="PostgreSQL streaming replicas that serve the read models and the feed, "
        "comma-separated (empty: the primary serves them).",
    )
    read_wait: float = Field(
        default=5.0, ge=0, le=30,
        description="Longest wait, in seconds, of a read asked with min_position for the "
        "read models (or the feed) to reach that position before a 503.",
    )

    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES, ge=1024,
        description="Largest request body, in bytes, checked before it is parsed or the "
        "caller authenticated (413 beyond it). One command is far smaller.",
    )
    max_import_bytes: int = Field(
        default=MAX_IMPORT_BYTES, ge=1024,
        description="Largest body of POST /v1/import (a JSON Lines file of commands).",
    )

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def read_database_urls(self) -> list[str]:
        """The replicas of ``read_database_url``, in the order given."""
        return [url.strip() for url in self.read_database_url.split(",") if url.strip()]

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file named by ``database_url``."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            msg = f"not an SQLite URL: {self.database_url!r}"
            raise ValueError(msg)
        return Path(self.database_url[len(prefix) :])


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
