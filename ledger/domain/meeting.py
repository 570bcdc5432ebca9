"""Meetings of a body: checkers, numbered paragraphs, verification, posting and appeals."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from ledger.domain.base import LedgerAggregate, parse_date
from ledger.errors import AlreadyRecorded, Problem, RuleViolation

APPEAL_OUTCOMES = ("dismissed", "upheld", "withdrawn", "annulled")


class Meeting(LedgerAggregate):
    """A meeting (sammanträde) of one body, whose minutes record numbered paragraphs (§).

    Minutes take effect when verified (justerade) by the chair and the elected checkers;
    a single paragraph can be verified at once. Verified minutes are posted, and anyone
    may appeal a decision within the appeal period.
    """

    kind: ClassVar[str] = "meeting"
    correctable: ClassVar[dict[str, Any]] = {"held_on": parse_date}

    class Held(LedgerAggregate.Created):
        """A body met."""

        organisation: str
        body: str
        held_on: date
        title: str | None

    class CheckersElected(LedgerAggregate.Event):
        """The meeting elected who verifies its minutes with the chair."""

        checkers: list[str]

        def apply(self, aggregate: Meeting) -> None:
            aggregate.checkers = list(self.checkers)

    class ParagraphRecorded(LedgerAggregate.Event):
        """A numbered paragraph of the minutes."""

        number: int
        title: str
        matter: str | None

        def apply(self, aggregate: Meeting) -> None:
            aggregate.paragraphs[self.number] = {"title": self.title, "verified_on": None}

    class MinutesVerified(LedgerAggregate.Event):
        """The chair and checkers verified the whole minutes."""

        verified_on: date
        verified_by: list[str]

        def apply(self, aggregate: Meeting) -> None:
            aggregate.minutes_verified_on = self.verified_on
            for paragraph in aggregate.paragraphs.values():
                if paragraph["verified_on"] is None:
                    paragraph["verified_on"] = self.verified_on

    class ParagraphVerified(LedgerAggregate.Event):
        """One paragraph was verified on its own (omedelbar justering)."""

        number: int
        verified_on: date
        verified_by: list[str]

        def apply(self, aggregate: Meeting) -> None:
            aggregate.paragraphs[self.number]["verified_on"] = self.verified_on

    class MinutesPosted(LedgerAggregate.Event):
        """Verified minutes were posted on the notice board; the appeal period runs."""

        posted_on: date
        appeal_period_ends: date

        def apply(self, aggregate: Meeting) -> None:
            aggregate.posted_on = self.posted_on

    class AppealLodged(LedgerAggregate.Event):
        """Someone appealed a paragraph's decision (laglighetsprövning)."""

        appeal_ref: str
        paragraph: int
        lodged_on: date
        appellant: str
        court: str | None

        def apply(self, aggregate: Meeting) -> None:
            aggregate.appeals[self.appeal_ref.casefold()] = {
                "paragraph": self.paragraph, "resolved": False,
            }

    class AppealResolved(LedgerAggregate.Event):
        """The court ruled on, or the appellant withdrew, an appeal."""

        appeal_ref: str
        resolved_on: date
        outcome: str

        def apply(self, aggregate: Meeting) -> None:
            aggregate.appeals[self.appeal_ref.casefold()]["resolved"] = True

    organisation: str
    body: str
    held_on: date
    checkers: list[str]
    paragraphs: dict[int, dict[str, Any]]
    minutes_verified_on: date | None
    posted_on: date | None
    appeals: dict[str, dict[str, Any]]

    def __init__(
        self, ref: str, organisation: str, body: str, held_on: date, title: str | None
    ) -> None:
        super().__init__(ref)
        self.organisation = organisation
        self.body = body
        self.held_on = held_on
        self.checkers = []
        self.paragraphs = {}
        self.minutes_verified_on = None
        self.posted_on = None
        self.appeals = {}

    def owners(self) -> set[str]:
        return {self.organisation}

    @classmethod
    def hold(
        cls, ref: str, organisation: str, body: str, held_on: date, title: str | None
    ) -> Meeting:
        meeting: Meeting = cls._create(
            cls.Held,
            id=cls.id_for(ref),
            ref=ref,
            organisation=organisation,
            body=body,
            held_on=held_on,
            title=title,
        )
        return meeting

    def elect_checkers(self, checkers: list[str]) -> None:
        self.check_not_voided()
        self.trigger_event(self.CheckersElected, checkers=checkers)

    def record_paragraph(self, number: int, title: str, matter: str | None) -> None:
        self.check_not_voided()
        if number in self.paragraphs:
            raise AlreadyRecorded(
                f"§ {number} is already recorded in meeting {self.ref!r}",
                [Problem("paragraph", f"§ {number} exists in {self.ref}")],
            )
        self.trigger_event(self.ParagraphRecorded, number=number, title=title, matter=matter)

    def _check_not_before_meeting(self, when: date, field: str, act: str) -> None:
        if when < self.held_on:
            raise RuleViolation(
                f"cannot {act} before the meeting of {self.held_on.isoformat()}",
                [Problem(field, f"{when.isoformat()} is before {self.held_on.isoformat()}")],
            )

    def verify_minutes(self, verified_on: date, verified_by: list[str]) -> None:
        self.check_not_voided()
        self._check_not_before_meeting(verified_on, "verified_on", "verify minutes")
        if self.minutes_verified_on is not None:
            raise AlreadyRecorded(
                f"the minutes of {self.ref!r} are already verified",
                [Problem("meeting", f"verified on {self.minutes_verified_on.isoformat()}")],
            )
        self.trigger_event(self.MinutesVerified, verified_on=verified_on, verified_by=verified_by)

    def verify_paragraph(self, number: int, verified_on: date, verified_by: list[str]) -> None:
        self.check_not_voided()
        if number not in self.paragraphs:
            raise RuleViolation(
                f"meeting {self.ref!r} has no § {number} to verify",
                [Problem("paragraph", f"no § {number} in {self.ref}")],
            )
        self._check_not_before_meeting(verified_on, "verified_on", "verify a paragraph")
        if self.paragraphs[number]["verified_on"] is not None:
            raise AlreadyRecorded(
                f"§ {number} of {self.ref!r} is already verified",
                [Problem("paragraph", "already verified")],
            )
        self.trigger_event(
            self.ParagraphVerified, number=number, verified_on=verified_on, verified_by=verified_by
        )

    def is_verified(self, number: int) -> bool:
        return self.paragraphs.get(number, {}).get("verified_on") is not None

    def post_minutes(self, posted_on: date, appeal_period_ends: date) -> None:
        self.check_not_voided()
        if self.minutes_verified_on is None:
            raise RuleViolation(
                f"the minutes of {self.ref!r} must be verified before they are posted",
                [Problem("meeting", "minutes not verified")],
            )
        if posted_on < self.minutes_verified_on:
            raise RuleViolation(
                "minutes cannot be posted before they were verified",
                [Problem("posted_on", f"before {self.minutes_verified_on.isoformat()}")],
            )
        if appeal_period_ends < posted_on:
            raise RuleViolation(
                "the appeal period cannot end before the posting",
                [Problem("appeal_period_ends", f"before {posted_on.isoformat()}")],
            )
        self.trigger_event(
            self.MinutesPosted, posted_on=posted_on, appeal_period_ends=appeal_period_ends
        )

    def lodge_appeal(
        self, appeal_ref: str, paragraph: int, lodged_on: date, appellant: str, court: str | None
    ) -> None:
        self.check_not_voided()
        if paragraph not in self.paragraphs:
            raise RuleViolation(
                f"meeting {self.ref!r} has no § {paragraph} to appeal",
                [Problem("paragraph", f"no § {paragraph} in {self.ref}")],
            )
        if appeal_ref.casefold() in self.appeals:
            raise AlreadyRecorded(
                f"appeal {appeal_ref!r} is already recorded", [Problem("appeal_ref", "exists")]
            )
        self._check_not_before_meeting(lodged_on, "lodged_on", "appeal")
        self.trigger_event(
            self.AppealLodged,
            appeal_ref=appeal_ref,
            paragraph=paragraph,
            lodged_on=lodged_on,
            appellant=appellant,
            court=court,
        )

    def resolve_appeal(self, appeal_ref: str, resolved_on: date, outcome: str) -> None:
        self.check_not_voided()
        appeal = self.appeals.get(appeal_ref.casefold())
        if appeal is None:
            raise RuleViolation(
                f"no appeal {appeal_ref!r} on meeting {self.ref!r}",
                [Problem("appeal_ref", "unknown appeal")],
            )
        if appeal["resolved"]:
            raise AlreadyRecorded(
                f"appeal {appeal_ref!r} is already resolved", [Problem("appeal_ref", "resolved")]
            )
        self.trigger_event(
            self.AppealResolved, appeal_ref=appeal_ref, resolved_on=resolved_on, outcome=outcome
        )
