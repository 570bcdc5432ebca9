"""Idempotency keys as earlier versions recorded them: entries of the ledger.

Samsyn now keeps keys beside the ledger (``ledger/recorders.py``): never entries, never in
the feed, never sealed. Histories recorded before hold these entries; they stay in the log,
load, verify, and still answer a retry for the account that claimed them.
"""

from __future__ import annotations

from typing import ClassVar

from ledger.domain.base import LedgerAggregate


class IdempotencyKey(LedgerAggregate):
    """A key claimed as an entry by an earlier version (no longer created).

    Its ``ref`` joined the account and the key (``<account>:<key>``); a retry honours it
    only for the account that recorded it.
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
