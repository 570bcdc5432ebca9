"""Idempotency keys: a client's key claims one command, so retries are recorded once."""

from __future__ import annotations

from typing import ClassVar

from ledger.domain.base import LedgerAggregate


class IdempotencyKey(LedgerAggregate):
    """A claimed key, saved in the same transaction as the command it guards.

    The store refuses a second claim of the same key, so two racing retries cannot both
    write; the loser reads the claim and answers with the original receipt.
    """

    kind: ClassVar[str] = "idempotency-key"

    class Claimed(LedgerAggregate.Created):
        """A command was recorded under this key."""

        command_type: str
        command_hash: str
        entries: list[list[str | int]]

    command_type: str
    command_hash: str
    entries: list[list[str | int]]

    def __init__(
        self, ref: str, command_type: str, command_hash: str, entries: list[list[str | int]]
    ) -> None:
        super().__init__(ref)
        self.command_type = command_type
        self.command_hash = command_hash
        self.entries = entries

    @classmethod
    def claim(
        cls, key: str, command_type: str, command_hash: str, entries: list[list[str | int]]
    ) -> IdempotencyKey:
        claimed: IdempotencyKey = cls._create(
            cls.Claimed,
            id=cls.id_for(key),
            ref=key,
            command_type=command_type,
            command_hash=command_hash,
            entries=entries,
        )
        return claimed
