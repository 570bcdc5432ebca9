"""Command handlers: check each command against the aggregates it touches, then change them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger import commands as c
from ledger.domain.agreement import Agreement
from ledger.domain.assignment import Assignment
from ledger.domain.base import LedgerAggregate
from ledger.domain.consultation import Consultation
from ledger.domain.decision import Decision
from ledger.domain.matter import CaseNumber, Matter
from ledger.domain.meeting import Meeting
from ledger.domain.motion import Motion
from ledger.domain.organisation import Organisation
from ledger.domain.recommendation import Recommendation
from ledger.errors import Problem, RuleViolation, UnknownReference
from ledger.unit_of_work import UnitOfWork

Handler = Callable[[Any, UnitOfWork], None]
HANDLERS: dict[type[c.Command], Handler] = {}

ENTRY_CLASSES: dict[str, type[LedgerAggregate]] = {
    cls.kind: cls
    for cls in (Organisation, Matter, Meeting, Motion, Decision, Recommendation, Consultation,
                Agreement, Assignment)
}


def handles(command_type: type[c.Command]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[command_type] = handler
        return handler

    return register


def _matter_ref(uow: UnitOfWork, ref: c.MatterRef | None, field: str = "matter") -> str | None:
    if ref is None:
        return None
    return uow.matter(ref.organisation, ref.dnr, field).ref


def _same(a: str, b: str) -> bool:
    return a.casefold() == b.casefold()


# Reference data ---------------------------------------------------------------------------


@handles(c.RegisterOrganisation)
def register_organisation(cmd: c.RegisterOrganisation, uow: UnitOfWork) -> None:
    uow.authorise(set(), "type")
    uow.add(Organisation.register(cmd.ref, cmd.name, cmd.kind, cmd.registered_on))


@handles(c.EstablishBody)
def establish_body(cmd: c.EstablishBody, uow: UnitOfWork) -> None:
    uow.authorise(set(), "type")
    uow.organisation(cmd.organisation, "organisation").establish_body(cmd.code, cmd.name, cmd.kind)


@handles(c.AssignRole)
def assign_role(cmd: c.AssignRole, uow: UnitOfWork) -> None:
    uow.authorise(set(), "type")
    organisation = uow.organisation(cmd.organisation, "organisation")
    if cmd.body is not None and not organisation.has_body(cmd.body):
        raise UnknownReference("body", f"{organisation.ref}/{cmd.body}", "body")
    organisation.assign_role(cmd.person, cmd.role, cmd.body, cmd.valid_from)


@handles(c.EndRole)
def end_role(cmd: c.EndRole, uow: UnitOfWork) -> None:
    uow.authorise(set(), "type")
    uow.organisation(cmd.organisation, "organisation").end_role(
        cmd.person, cmd.role, cmd.valid_until
    )


# Matters ------------------------------------------------------------------------------------


@handles(c.OpenMatter)
def open_matter(cmd: c.OpenMatter, uow: UnitOfWork) -> None:
    case_numbers = []
    for i, number in enumerate(cmd.case_numbers):
        organisation = uow.organisation(number.organisation, f"case_numbers[{i}].organisation")
        uow.authorise({organisation.ref}, f"case_numbers[{i}].organisation")
        case_numbers.append({"organisation": organisation.ref, "dnr": number.dnr})
    matter = Matter.open(cmd.title, cmd.opened_on, case_numbers)
    uow.add(matter)
    for claimed in case_numbers:
        uow.add(CaseNumber.claim(claimed["organisation"], claimed["dnr"], matter.id))


@handles(c.AddCaseNumber)
def add_case_number(cmd: c.AddCaseNumber, uow: UnitOfWork) -> None:
    matter = uow.matter(cmd.matter.organisation, cmd.matter.dnr, "matter")
    organisation = uow.organisation(cmd.case_number.organisation, "case_number.organisation")
    uow.authorise({organisation.ref}, "case_number.organisation")
    uow.add(CaseNumber.claim(organisation.ref, cmd.case_number.dnr, matter.id))
    matter.add_case_number(organisation.ref, cmd.case_number.dnr)


@handles(c.LinkMatters)
def link_matters(cmd: c.LinkMatters, uow: UnitOfWork) -> None:
    matter = uow.matter(cmd.matter.organisation, cmd.matter.dnr, "matter")
    other = uow.matter(cmd.other.organisation, cmd.other.dnr, "other")
    uow.authorise(matter.owners(), "matter")
    matter.link(other.ref, cmd.relation)


@handles(c.RegisterDocument)
def register_document(cmd: c.RegisterDocument, uow: UnitOfWork) -> None:
    matter = uow.matter(cmd.matter.organisation, cmd.matter.dnr, "matter")
    organisation = uow.organisation(cmd.organisation, "organisation")
    uow.authorise({organisation.ref}, "organisation")
    matter.register_document(
        cmd.document_ref, cmd.title, cmd.kind, cmd.dated, organisation.ref, cmd.sha256,
        cmd.media_type,
    )


# Meetings -----------------------------------------------------------------------------------


@handles(c.HoldMeeting)
def hold_meeting(cmd: c.HoldMeeting, uow: UnitOfWork) -> None:
    organisation = uow.body(cmd.organisation, cmd.body, "body")
    uow.authorise({organisation.ref}, "organisation")
    uow.add(Meeting.hold(cmd.meeting_ref, organisation.ref, cmd.body, cmd.held_on, cmd.title))


@handles(c.ElectCheckers)
def elect_checkers(cmd: c.ElectCheckers, uow: UnitOfWork) -> None:
    uow.owned(Meeting, cmd.meeting, "meeting").elect_checkers(list(cmd.checkers))


@handles(c.RecordParagraph)
def record_paragraph(cmd: c.RecordParagraph, uow: UnitOfWork) -> None:
    meeting = uow.owned(Meeting, cmd.meeting, "meeting")
    meeting.record_paragraph(cmd.number, cmd.title, _matter_ref(uow, cmd.matter))


@handles(c.VerifyMinutes)
def verify_minutes(cmd: c.VerifyMinutes, uow: UnitOfWork) -> None:
    meeting = uow.owned(Meeting, cmd.meeting, "meeting")
    meeting.verify_minutes(cmd.verified_on, list(cmd.verified_by))


@handles(c.VerifyParagraph)
def verify_paragraph(cmd: c.VerifyParagraph, uow: UnitOfWork) -> None:
    uow.owned(Meeting, cmd.meeting, "meeting").verify_paragraph(
        cmd.paragraph, cmd.verified_on, list(cmd.verified_by)
    )


@handles(c.PostMinutes)
def post_minutes(cmd: c.PostMinutes, uow: UnitOfWork) -> None:
    uow.owned(Meeting, cmd.meeting, "meeting").post_minutes(cmd.posted_on, cmd.appeal_ends)


@handles(c.LodgeAppeal)
def lodge_appeal(cmd: c.LodgeAppeal, uow: UnitOfWork) -> None:
    uow.owned(Meeting, cmd.meeting, "meeting").lodge_appeal(
        cmd.appeal_ref, cmd.paragraph, cmd.lodged_on, cmd.appellant, cmd.court
    )


@handles(c.ResolveAppeal)
def resolve_appeal(cmd: c.ResolveAppeal, uow: UnitOfWork) -> None:
    uow.owned(Meeting, cmd.meeting, "meeting").resolve_appeal(
        cmd.appeal_ref, cmd.resolved_on, cmd.outcome
    )


# Motions and decisions ------------------------------------------------------------------------


@handles(c.TableMotion)
def table_motion(cmd: c.TableMotion, uow: UnitOfWork) -> None:
    organisation = uow.body(cmd.organisation, cmd.body, "body")
    uow.authorise({organisation.ref}, "organisation")
    uow.add(
        Motion.table(
            cmd.ref,
            organisation.ref,
            cmd.body,
            cmd.proposer,
            _matter_ref(uow, cmd.matter),
            cmd.tabled_on,
            [p.model_dump(mode="json") for p in cmd.points],
            cmd.justification,
        )
    )


@handles(c.RecordDecision)
def record_decision(cmd: c.RecordDecision, uow: UnitOfWork) -> None:
    organisation = uow.body(cmd.organisation, cmd.body, "body")
    uow.authorise({organisation.ref}, "organisation")
    ref = cmd.decision_ref
    matter = _matter_ref(uow, cmd.matter)
    if cmd.meeting is not None and cmd.paragraph is not None:
        meeting = uow.get(Meeting, cmd.meeting, "meeting")
        if not (_same(meeting.organisation, organisation.ref) and _same(meeting.body, cmd.body)):
            raise RuleViolation(
                f"meeting {meeting.ref!r} is not a meeting of {organisation.ref}/{cmd.body}",
                [Problem("meeting", f"held by {meeting.organisation}/{meeting.body}")],
            )
        meeting.record_paragraph(
            cmd.paragraph, cmd.paragraph_title or cmd.points[0].text[:200], matter
        )
    if cmd.motion is not None:
        motion = uow.get(Motion, cmd.motion, "motion")
        if not (_same(motion.organisation, organisation.ref) and _same(motion.body, cmd.body)):
            raise RuleViolation(
                f"motion {motion.ref!r} was put to {motion.organisation}/{motion.body}",
                [Problem("motion", f"not a motion to {organisation.ref}/{cmd.body}")],
            )
    for i, condition in enumerate(cmd.conditions):
        if condition.endorsement_by is not None:
            by = condition.endorsement_by
            uow.body(by.organisation, by.body, f"conditions[{i}].endorsement_by.body",
                     f"conditions[{i}].endorsement_by.organisation")
    decision = Decision.record(
        ref,
        organisation=organisation.ref,
        body=cmd.body,
        meeting=cmd.meeting,
        paragraph=cmd.paragraph,
        decided_on=cmd.decided_on,
        matter=matter,
        motion=cmd.motion,
        outcome=cmd.outcome,
        points=[p.model_dump(mode="json") for p in cmd.points],
        conditions=[k.model_dump(mode="json") for k in cmd.conditions],
        justification=cmd.justification,
        dispatched_to=list(cmd.dispatched_to),
    )
    uow.add(decision)
    for i, point in enumerate(cmd.points):
        for j, effect in enumerate(point.effects):
            _apply_effect(effect, decision, uow, f"points[{i}].effects[{j}]")


def _apply_effect(effect: Any, decision: Decision, uow: UnitOfWork, field: str) -> None:
    """Record a decision's effect on the records it changes, checking each one's rules."""
    party, ref, on = decision.organisation, decision.ref, decision.decided_on
    if isinstance(effect, c.AdoptRecommendation | c.RejectRecommendation):
        recommendation = uow.get(Recommendation, effect.recommendation, f"{field}.recommendation")
        if isinstance(effect, c.RejectRecommendation):
            outcome = "rejected"
        else:
            outcome = "adopted_with_amendments" if effect.with_amendments else "adopted"
        recommendation.record_principal_decision(
            party, ref, outcome, on, f"{field}.recommendation"
        )
    elif isinstance(effect, c.EndorseDecision):
        endorsed = uow.get(Decision, effect.decision, f"{field}.decision")
        if endorsed.id == decision.id:
            raise RuleViolation(
                "a decision cannot endorse itself", [Problem(f"{field}.decision", "is itself")]
            )
    elif isinstance(
        effect,
        c.AdoptAgreement | c.ExtendAgreement | c.ReviseAgreement | c.TerminateAgreement
        | c.ReplaceAgreement,
    ):
        agreement = uow.get(Agreement, effect.agreement, f"{field}.agreement")
        change: dict[str, Any] = effect.model_dump(mode="json", exclude={"effect", "agreement"})
        change["kind"] = effect.effect.removesuffix("_agreement")
        if isinstance(effect, c.ReplaceAgreement):
            replacement = uow.get(Agreement, effect.replaced_by, f"{field}.replaced_by")
            if replacement.id == agreement.id:
                raise RuleViolation(
                    "an agreement cannot replace itself",
                    [Problem(f"{field}.replaced_by", "is the agreement itself")],
                )
            change["replaced_by"] = replacement.ref
        agreement.record_party_decision(party, ref, on, change, field)
    elif isinstance(effect, c.GiveAssignment):
        uow.add(
            Assignment.give(
                effect.assignment,
                decision=ref,
                organisation=party,
                owner=effect.owner,
                task=effect.task,
                given_on=on,
                due_on=effect.due_on,
            )
        )
    elif isinstance(effect, c.SetDeadline):
        assignment = uow.get(Assignment, effect.assignment, f"{field}.assignment")
        assignment.revise_deadline(effect.due_on, ref, on, f"{field}.due_on")


# Recommendations and consultations ------------------------------------------------------------


def _addressees(uow: UnitOfWork, refs: list[str]) -> list[str]:
    principals = [uow.principal(r, f"addressees[{i}]").ref for i, r in enumerate(refs)]
    if len({p.casefold() for p in principals}) != len(principals):
        raise RuleViolation(
            "an addressee is named twice", [Problem("addressees", "must be distinct")]
        )
    return principals


@handles(c.IssueRecommendation)
def issue_recommendation(cmd: c.IssueRecommendation, uow: UnitOfWork) -> None:
    joint_body = uow.organisation(cmd.joint_body, "joint_body")
    uow.authorise({joint_body.ref}, "joint_body")
    if joint_body.organisation_kind != "joint_body":
        raise RuleViolation(
            f"{joint_body.ref!r} is not a joint body; only joint bodies recommend",
            [Problem("joint_body", f"{joint_body.ref} is a {joint_body.organisation_kind}")],
        )
    if cmd.decision is not None:
        decision = uow.get(Decision, cmd.decision, "decision")
        if not _same(decision.organisation, joint_body.ref):
            raise RuleViolation(
                f"decision {decision.ref!r} is not the joint body's",
                [Problem("decision", f"decided by {decision.organisation}")],
            )
    uow.add(
        Recommendation.issue(
            cmd.ref,
            joint_body=joint_body.ref,
            title=cmd.title,
            matter=_matter_ref(uow, cmd.matter),
            decision=cmd.decision,
            issued_on=cmd.issued_on,
            addressees=_addressees(uow, list(cmd.addressees)),
            respond_by=cmd.respond_by,
            points=[p.model_dump(mode="json") for p in cmd.points],
            justification=cmd.justification,
        )
    )


@handles(c.OpenConsultation)
def open_consultation(cmd: c.OpenConsultation, uow: UnitOfWork) -> None:
    organisation = uow.organisation(cmd.organisation, "organisation")
    uow.authorise({organisation.ref}, "organisation")
    if cmd.decision is not None:
        uow.get(Decision, cmd.decision, "decision")
    uow.add(
        Consultation.open(
            cmd.ref,
            organisation=organisation.ref,
            subject=cmd.subject,
            matter=_matter_ref(uow, cmd.matter),
            decision=cmd.decision,
            addressees=_addressees(uow, list(cmd.addressees)),
            opens_on=cmd.opens_on,
            closes_on=cmd.closes_on,
        )
    )


@handles(c.RecordConsultationResponse)
def record_consultation_response(cmd: c.RecordConsultationResponse, uow: UnitOfWork) -> None:
    consultation = uow.get(Consultation, cmd.consultation, "consultation")
    principal = uow.organisation(cmd.principal, "principal")
    uow.authorise(consultation.owners() | {principal.ref}, "consultation")
    if cmd.decision is not None:
        uow.get(Decision, cmd.decision, "decision")
    consultation.receive_response(
        principal.ref, cmd.received_on, cmd.stance, cmd.summary, cmd.decision
    )


@handles(c.CloseConsultation)
def close_consultation(cmd: c.CloseConsultation, uow: UnitOfWork) -> None:
    uow.owned(Consultation, cmd.consultation, "consultation").close(cmd.closed_on)


# Agreements and assignments -------------------------------------------------------------------


@handles(c.RegisterAgreement)
def register_agreement(cmd: c.RegisterAgreement, uow: UnitOfWork) -> None:
    parties = [uow.organisation(p, f"parties[{i}]").ref for i, p in enumerate(cmd.parties)]
    if len({p.casefold() for p in parties}) != len(parties):
        raise RuleViolation("a party is named twice", [Problem("parties", "must be distinct")])
    uow.authorise(set(parties), "parties")
    uow.add(
        Agreement.register(
            cmd.ref,
            title=cmd.title,
            agreement_kind=cmd.kind,
            parties=parties,
            matter=_matter_ref(uow, cmd.matter),
            valid_from=cmd.valid_from,
            valid_until=cmd.valid_until,
            concluded=cmd.concluded,
        )
    )


@handles(c.ReportBack)
def report_back(cmd: c.ReportBack, uow: UnitOfWork) -> None:
    assignment = uow.owned(Assignment, cmd.assignment, "assignment")
    if cmd.decision is not None:
        uow.get(Decision, cmd.decision, "decision")
    assignment.report_back(cmd.reported_on, cmd.summary, cmd.decision)


# Adjustments ----------------------------------------------------------------------------------


@handles(c.CorrectEntry)
def correct_entry(cmd: c.CorrectEntry, uow: UnitOfWork) -> None:
    target = uow.get_any(ENTRY_CLASSES[cmd.entry.kind], cmd.entry.ref, "entry.ref")
    uow.authorise(target.owners(), "entry")
    target.correct(cmd.field, cmd.right_value, cmd.reason)


@handles(c.VoidEntry)
def void_entry(cmd: c.VoidEntry, uow: UnitOfWork) -> None:
    target = uow.get_any(ENTRY_CLASSES[cmd.entry.kind], cmd.entry.ref, "entry.ref")
    uow.authorise(target.owners(), "entry")
    target.void(cmd.reason)
    if isinstance(target, Decision):
        _withdraw_effects(target, cmd.reason, uow)


def _withdraw_effects(decision: Decision, reason: str, uow: UnitOfWork) -> None:
    """A voided decision no longer counts for the records its effects touched."""
    why = f"decision {decision.ref} voided: {reason}"
    for effect in decision.effects:
        name = effect["effect"]
        if name in ("adopt_recommendation", "reject_recommendation"):
            recommendation = uow.find(
                Recommendation, Recommendation.id_for(effect["recommendation"])
            )
            if recommendation is not None:
                recommendation.withdraw_principal_decision(
                    decision.organisation, decision.ref, why
                )
        elif name.endswith("_agreement"):
            agreement = uow.find(Agreement, Agreement.id_for(effect["agreement"]))
            if agreement is not None:
                agreement.withdraw_party_decision(decision.organisation, decision.ref, why)
        elif name == "give_assignment":
            assignment = uow.find(Assignment, Assignment.id_for(effect["assignment"]))
            if assignment is not None and not assignment.voided:
                assignment.void(why)
