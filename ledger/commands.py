"""The commands a registrar can give: plain pydantic models, the write API's contract."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from ledger import limits
from ledger.limits import (
    MAX_CASE_NUMBERS,
    MAX_CONDITIONS,
    MAX_EFFECTS,
    MAX_ORGANISATIONS,
    MAX_PEOPLE,
    MAX_POINTS,
    Amount,
    MediaType,
    Name,
    Number,
    Ref,
    Text,
)

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

#: How long anyone may appeal a municipal or regional decision after posting (three weeks).
APPEAL_PERIOD = timedelta(weeks=3)


class CommandModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _dates_as_dates(cls, data: Any) -> Any:
        """A date is written YYYY-MM-DD; a number is not read as seconds since 1970."""
        if isinstance(data, dict):
            limits.no_numbers_for_dates(cls, data)
        return data

    @field_validator("*")
    @classmethod
    def _inside_the_domain(cls, value: Any) -> Any:
        """Every date of every command lies in the range the ledger accepts (ledger/limits.py)."""
        return limits.domain_date(value) if isinstance(value, date) else value


class Command(CommandModel):
    """Base of every command. ``type`` names it in JSON (the import format, the HTTP API)."""

    type: str

    def target(self) -> tuple[str, str] | None:
        """The existing entry (kind, ref) the command acts on, for optimistic concurrency."""
        for name, kind in (("meeting", "meeting"), ("consultation", "consultation"),
                           ("assignment", "assignment")):
            value = getattr(self, name, None)
            if isinstance(value, str):
                return kind, value
        return None


# Reference data ---------------------------------------------------------------------------


class RegisterOrganisation(Command):
    """Register a principal, a joint body or another organisation under its short name."""

    type: Literal["RegisterOrganisation"] = "RegisterOrganisation"
    ref: Ref = Field(description="Short name registrars use, e.g. RJH, Berg, SVOM.")
    name: Name
    kind: Literal["principal", "joint_body", "other"]
    registered_on: date


class EstablishBody(Command):
    """Register a body of an organisation (board, committee, joint council, officials' group)."""

    type: Literal["EstablishBody"] = "EstablishBody"
    organisation: Ref
    code: Ref = Field(description="The body's code within the organisation, e.g. RS, HSN, KS.")
    name: Name
    kind: Literal["assembly", "board", "committee", "subcommittee", "council", "officials_group"]


class AssignRole(Command):
    """A person takes a role in an organisation, optionally in one of its bodies."""

    type: Literal["AssignRole"] = "AssignRole"
    organisation: Ref
    person: Name
    role: Name
    body: Ref | None = None
    valid_from: date


class EndRole(Command):
    """A person leaves a role."""

    type: Literal["EndRole"] = "EndRole"
    organisation: Ref
    person: Name
    role: Name
    valid_until: date


# Matters ------------------------------------------------------------------------------------


class CaseNumberModel(CommandModel):
    organisation: Ref
    dnr: Ref = Field(description="The organisation's registration number, e.g. RS/203/2021.")


class MatterRef(CaseNumberModel):
    """A matter, named by any one of its case numbers."""


class OpenMatter(Command):
    """Open a matter under one or more organisations' case numbers."""

    type: Literal["OpenMatter"] = "OpenMatter"
    title: Text
    opened_on: date
    case_numbers: list[CaseNumberModel] = Field(min_length=1, max_length=MAX_CASE_NUMBERS)

    @field_validator("case_numbers")
    @classmethod
    def _distinct(cls, value: list[CaseNumberModel]) -> list[CaseNumberModel]:
        seen = {(c.organisation.casefold(), c.dnr.casefold()) for c in value}
        if len(seen) != len(value):
            msg = "the same case number is given twice"
            raise ValueError(msg)
        return value


class AddCaseNumber(Command):
    """Another organisation registers the matter under its own case number."""

    type: Literal["AddCaseNumber"] = "AddCaseNumber"
    matter: MatterRef
    case_number: CaseNumberModel


class LinkMatters(Command):
    """Record that one matter relates to another."""

    type: Literal["LinkMatters"] = "LinkMatters"
    matter: MatterRef
    other: MatterRef
    relation: Literal["follows_up", "relates_to", "replaces", "part_of"]


class RegisterDocument(Command):
    """Register a document of a matter by the SHA-256 of its content."""

    type: Literal["RegisterDocument"] = "RegisterDocument"
    matter: MatterRef
    document_ref: Ref
    title: Text
    kind: Literal["memo", "decision_basis", "minutes", "extract", "plan", "agreement", "response",
                  "other"]
    dated: date
    organisation: Ref
    sha256: Sha256
    media_type: MediaType | None = None


# Meetings -----------------------------------------------------------------------------------


class HoldMeeting(Command):
    """Register a meeting of a body. Its ref defaults to ORGANISATION/BODY/DATE."""

    type: Literal["HoldMeeting"] = "HoldMeeting"
    ref: Ref | None = None
    organisation: Ref
    body: Ref
    held_on: date
    title: Name | None = None

    @property
    def meeting_ref(self) -> str:
        return self.ref or f"{self.organisation}/{self.body}/{self.held_on.isoformat()}"


class ElectCheckers(Command):
    """The meeting elects who verifies its minutes with the chair."""

    type: Literal["ElectCheckers"] = "ElectCheckers"
    meeting: Ref
    checkers: list[Name] = Field(min_length=1, max_length=MAX_PEOPLE)


class RecordParagraph(Command):
    """Record a numbered paragraph (§) of a meeting's minutes."""

    type: Literal["RecordParagraph"] = "RecordParagraph"
    meeting: Ref
    number: Number
    title: Text
    matter: MatterRef | None = None


class VerifyMinutes(Command):
    """The chair and checkers verify the whole minutes (justering)."""

    type: Literal["VerifyMinutes"] = "VerifyMinutes"
    meeting: Ref
    verified_on: date
    verified_by: list[Name] = Field(min_length=1, max_length=MAX_PEOPLE)


class VerifyParagraph(Command):
    """One paragraph is verified at once (omedelbar justering)."""

    type: Literal["VerifyParagraph"] = "VerifyParagraph"
    meeting: Ref
    paragraph: Number
    verified_on: date
    verified_by: list[Name] = Field(min_length=1, max_length=MAX_PEOPLE)


class PostMinutes(Command):
    """Verified minutes are posted; the appeal period (three weeks by default) starts."""

    type: Literal["PostMinutes"] = "PostMinutes"
    meeting: Ref
    posted_on: date
    appeal_period_ends: date | None = None

    @property
    def appeal_ends(self) -> date:
        return self.appeal_period_ends or self.posted_on + APPEAL_PERIOD


class LodgeAppeal(Command):
    """Someone appeals the decision of a paragraph."""

    type: Literal["LodgeAppeal"] = "LodgeAppeal"
    meeting: Ref
    paragraph: Number
    appeal_ref: Ref
    lodged_on: date
    appellant: Name
    court: Name | None = None


class ResolveAppeal(Command):
    """An appeal is decided or withdrawn."""

    type: Literal["ResolveAppeal"] = "ResolveAppeal"
    meeting: Ref
    appeal_ref: Ref
    resolved_on: date
    outcome: Literal["dismissed", "upheld", "withdrawn", "annulled"]


# Motions and decisions ------------------------------------------------------------------------


class MotionPoint(CommandModel):
    number: Number
    text: Text


class TableMotion(Command):
    """Put a motion (proposal with numbered points) before a body."""

    type: Literal["TableMotion"] = "TableMotion"
    ref: Ref
    organisation: Ref
    body: Ref
    proposer: Name
    matter: MatterRef | None = None
    tabled_on: date
    points: list[MotionPoint] = Field(min_length=1, max_length=MAX_POINTS)
    justification: Text | None = None


class AdoptRecommendation(CommandModel):
    effect: Literal["adopt_recommendation"] = "adopt_recommendation"
    recommendation: Ref
    with_amendments: bool = False


class RejectRecommendation(CommandModel):
    effect: Literal["reject_recommendation"] = "reject_recommendation"
    recommendation: Ref


class EndorseDecision(CommandModel):
    effect: Literal["endorse_decision"] = "endorse_decision"
    decision: Ref


class AdoptAgreement(CommandModel):
    effect: Literal["adopt_agreement"] = "adopt_agreement"
    agreement: Ref


class ExtendAgreement(CommandModel):
    effect: Literal["extend_agreement"] = "extend_agreement"
    agreement: Ref
    until: date


class ReviseAgreement(CommandModel):
    effect: Literal["revise_agreement"] = "revise_agreement"
    agreement: Ref
    summary: Text
    effective_on: date | None = None


class TerminateAgreement(CommandModel):
    effect: Literal["terminate_agreement"] = "terminate_agreement"
    agreement: Ref
    effective_on: date


class ReplaceAgreement(CommandModel):
    """End the agreement by another; without a date, when the replacement takes effect."""

    effect: Literal["replace_agreement"] = "replace_agreement"
    agreement: Ref
    replaced_by: Ref
    effective_on: date | None = None


class AllocateFunds(CommandModel):
    effect: Literal["allocate_funds"] = "allocate_funds"
    amount: Amount
    currency: Literal["SEK", "EUR"] = "SEK"
    purpose: Text
    funding_source: Text | None = None


class GiveAssignment(CommandModel):
    effect: Literal["give_assignment"] = "give_assignment"
    assignment: Ref
    owner: Name
    task: Text
    due_on: date | None = None


class SetDeadline(CommandModel):
    """Set or move an assignment's due date; the old one stays in history."""

    effect: Literal["set_deadline"] = "set_deadline"
    assignment: Ref
    due_on: date


Effect = Annotated[
    AdoptRecommendation | RejectRecommendation | EndorseDecision | AdoptAgreement
    | ExtendAgreement | ReviseAgreement | TerminateAgreement | ReplaceAgreement | AllocateFunds
    | GiveAssignment | SetDeadline,
    Field(discriminator="effect"),
]


class DecisionPoint(CommandModel):
    number: Number
    text: Text
    effects: list[Effect] = Field(default_factory=list, max_length=MAX_EFFECTS)


class BodyRefModel(CommandModel):
    organisation: Ref
    body: Ref


class Condition(CommandModel):
    """A decision takes effect only if ... ("provided that HSN endorses the decision")."""

    text: Text
    endorsement_by: BodyRefModel | None = Field(
        default=None, description="Met when this body records a decision endorsing this one."
    )


class RecordDecision(Command):
    """Record what a body decided, with each point's effects and any conditions."""

    type: Literal["RecordDecision"] = "RecordDecision"
    ref: Ref | None = Field(
        default=None, description="Defaults to 'MEETING §N' when a meeting and § are given."
    )
    organisation: Ref
    body: Ref
    meeting: Ref | None = None
    paragraph: Number | None = None
    paragraph_title: Text | None = None
    decided_on: date
    matter: MatterRef | None = None
    motion: Ref | None = None
    outcome: Literal["as_proposed", "amended", "rejected", "without_motion"] = "without_motion"
    points: list[DecisionPoint] = Field(min_length=1, max_length=MAX_POINTS)
    conditions: list[Condition] = Field(default_factory=list, max_length=MAX_CONDITIONS)
    justification: Text | None = None
    dispatched_to: list[Name] = Field(default_factory=list, max_length=MAX_ORGANISATIONS)

    @model_validator(mode="after")
    def _coherent(self) -> RecordDecision:
        if (self.meeting is None) != (self.paragraph is None):
            msg = "meeting and paragraph go together: give both or neither"
            raise ValueError(msg)
        if self.ref is None and self.meeting is None:
            msg = "a decision outside a meeting needs a ref"
            raise ValueError(msg)
        if self.motion is None and self.outcome != "without_motion":
            msg = f"outcome {self.outcome!r} needs the motion it answers"
            raise ValueError(msg)
        if self.motion is not None and self.outcome == "without_motion":
            msg = "a decision on a motion is as_proposed, amended or rejected"
            raise ValueError(msg)
        numbers = [p.number for p in self.points]
        if len(set(numbers)) != len(numbers):
            msg = "point numbers must be distinct"
            raise ValueError(msg)
        return self

    @property
    def decision_ref(self) -> str:
        return self.ref or f"{self.meeting} §{self.paragraph}"


# Recommendations and consultations ------------------------------------------------------------


class IssueRecommendation(Command):
    """A joint body recommends that the addressed principals each decide the same thing."""

    type: Literal["IssueRecommendation"] = "IssueRecommendation"
    ref: Ref
    joint_body: Ref
    title: Text
    matter: MatterRef | None = None
    decision: Ref | None = Field(default=None, description="The joint body's decision issuing it.")
    issued_on: date
    addressees: list[Ref] = Field(min_length=1, max_length=MAX_ORGANISATIONS)
    respond_by: date | None = None
    points: list[DecisionPoint] = Field(min_length=1, max_length=MAX_POINTS)
    justification: Text | None = None


class OpenConsultation(Command):
    """Send a draft to principals for comment within a period."""

    type: Literal["OpenConsultation"] = "OpenConsultation"
    ref: Ref
    organisation: Ref
    subject: Text
    matter: MatterRef | None = None
    decision: Ref | None = None
    addressees: list[Ref] = Field(min_length=1, max_length=MAX_ORGANISATIONS)
    opens_on: date
    closes_on: date


class RecordConsultationResponse(Command):
    """A principal answers a consultation (late answers are accepted and flagged)."""

    type: Literal["RecordConsultationResponse"] = "RecordConsultationResponse"
    consultation: Ref
    principal: Ref
    received_on: date
    stance: Literal["supports", "supports_with_comments", "objects", "no_opinion",
                    "not_stated"]
    summary: Text | None = None
    decision: Ref | None = None


class CloseConsultation(Command):
    """Close a consultation round."""

    type: Literal["CloseConsultation"] = "CloseConsultation"
    consultation: Ref
    closed_on: date


# Agreements and assignments -------------------------------------------------------------------


class RegisterAgreement(Command):
    """Register an agreement or joint plan: parties and validity.

    ``concluded`` says whether it is already in force from ``valid_from`` (an agreement
    registered from the archive) or needs each party's adoption first (a new joint plan).
    """

    type: Literal["RegisterAgreement"] = "RegisterAgreement"
    ref: Ref
    title: Text
    kind: Literal["agreement", "joint_plan"] = "agreement"
    parties: list[Ref] = Field(min_length=2, max_length=MAX_ORGANISATIONS)
    matter: MatterRef | None = None
    valid_from: date
    valid_until: date | None = None
    concluded: bool = True


class ReportBack(Command):
    """The owner of an assignment reports back."""

    type: Literal["ReportBack"] = "ReportBack"
    assignment: Ref
    reported_on: date
    summary: Text | None = None
    decision: Ref | None = None


# Adjustments ----------------------------------------------------------------------------------

EntryKind = Literal[
    "organisation", "matter", "meeting", "motion", "decision", "recommendation",
    "consultation", "agreement", "assignment",
]


class EntryRef(CommandModel):
    kind: EntryKind
    ref: Ref


class CorrectEntry(Command):
    """Correct a registered fact: the right value and why. The wrong one stays in history."""

    type: Literal["CorrectEntry"] = "CorrectEntry"
    entry: EntryRef
    field: Ref
    right_value: Text | None = Field(
        description="The right value as JSON text (a date as YYYY-MM-DD); null clears it.")
    reason: Text

    def target(self) -> tuple[str, str] | None:
        return self.entry.kind, self.entry.ref


class VoidEntry(Command):
    """Void an entry registered in error, with the reason. It stays in the audit trail."""

    type: Literal["VoidEntry"] = "VoidEntry"
    entry: EntryRef
    reason: Text

    def target(self) -> tuple[str, str] | None:
        return self.entry.kind, self.entry.ref


AnyCommand = Annotated[
    RegisterOrganisation | EstablishBody | AssignRole | EndRole | OpenMatter | AddCaseNumber
    | LinkMatters | RegisterDocument | HoldMeeting | ElectCheckers | RecordParagraph
    | VerifyMinutes | VerifyParagraph | PostMinutes | LodgeAppeal | ResolveAppeal | TableMotion
    | RecordDecision | IssueRecommendation | OpenConsultation | RecordConsultationResponse
    | CloseConsultation | RegisterAgreement | ReportBack | CorrectEntry | VoidEntry,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Any] = TypeAdapter(AnyCommand)

COMMAND_TYPES: dict[str, type[Command]] = {
    cls.model_fields["type"].default: cls
    for cls in Command.__subclasses__()
}


def parse_command(data: Any) -> Command:
    """Validate one command given as JSON-like data (raises pydantic.ValidationError)."""
    command: Command = COMMAND_ADAPTER.validate_python(data)
    return command
