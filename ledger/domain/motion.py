"""Motions (förslag till beslut): numbered points proposed to a body, with their grounds."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date, parse_text


class Motion(LedgerAggregate):
    """What a proposer (a director, an office, a member) asks a body to decide."""

    kind: ClassVar[str] = "motion"
    correctable: ClassVar[dict[str, Any]] = {"tabled_on": parse_date, "justification": parse_text}

    class Tabled(LedgerAggregate.Created):
        """A motion was put before a body."""

        organisation: str
        body: str
        proposer: str
        matter: str | None
        tabled_on: date
        points: list[dict[str, Any]]
        justification: str | None

    organisation: str
    body: str
    tabled_on: date
    points: list[dict[str, Any]]
    justification: str | None

    def __init__(
        self,
        ref: str,
        organisation: str,
        body: str,
        proposer: str,
        matter: str | None,
        tabled_on: date,
        points: list[dict[str, Any]],
        justification: str | None,
    ) -> None:
        super().__init__(ref)
        self.organisation = organisation
        self.body = body
        self.tabled_on = tabled_on
        self.points = points
        self.justification = justification

    def owners(self) -> set[str]:
        return {self.organisation}

    @classmethod
    def table(
        cls,
        ref: str,
        organisation: str,
        body: str,
        proposer: str,
        matter: str | None,
        tabled_on: date,
        points: list[dict[str, Any]],
        justification: str | None,
    ) -> Motion:
        motion: Motion = cls._create(
            cls.Tabled,
            id=cls.id_for(ref),
            ref=ref,
            organisation=organisation,
            body=body,
            proposer=proposer,
            matter=matter,
            tabled_on=tabled_on,
            points=points,
            justification=justification,
        )
        return motion
