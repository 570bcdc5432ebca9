"""The event types the read side folds, named through the ledger's event classes.

A read model never spells an event type as text: it names the class
(``Decision.Recorded``) and :func:`event_name` gives the name its entries are filed under
(the class's qualified name, as :mod:`projections.decoding` records it). Every name the
read side uses is one of the catalogue's (``ledger.catalogue``); a test checks it.
"""

from __future__ import annotations

from ledger.catalogue import AGGREGATES, event_classes
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


def event_name(event: type[object]) -> str:
    """The event type entries of ``event`` are filed under (``Decision.Recorded``)."""
    return event.__qualname__


#: The event that creates each kind of entity (``decision`` → ``Decision.Recorded``).
CREATED: dict[str, str] = {
    aggregate.kind: event_name(event)
    for aggregate in AGGREGATES
    for event in event_classes(aggregate)
    if issubclass(event, LedgerAggregate.Created)
}

#: Suffixes of the adjustments every kind of entity shares (each aggregate has its own
#: class of them: ``Decision.FactCorrected``, ``Agreement.EntryVoided`` ...).
CORRECTED = "." + LedgerAggregate.FactCorrected.__name__
VOIDED = "." + LedgerAggregate.EntryVoided.__name__


# The events the read models fold, by name -------------------------------------------------

AGREEMENT_PARTY_DECIDED = event_name(Agreement.PartyDecided)
AGREEMENT_PARTY_DECISION_WITHDRAWN = event_name(Agreement.PartyDecisionWithdrawn)
AGREEMENT_REGISTERED = event_name(Agreement.Registered)
ASSIGNMENT_DEADLINE_REVISED = event_name(Assignment.DeadlineRevised)
ASSIGNMENT_GIVEN = event_name(Assignment.Given)
ASSIGNMENT_REPORTED_BACK = event_name(Assignment.ReportedBack)
CASE_NUMBER_CLAIMED = event_name(CaseNumber.Claimed)
CONSULTATION_CLOSED = event_name(Consultation.Closed)
CONSULTATION_OPENED = event_name(Consultation.Opened)
CONSULTATION_RESPONSE_RECEIVED = event_name(Consultation.ResponseReceived)
DECISION_RECORDED = event_name(Decision.Recorded)
MATTER_CASE_NUMBER_ADDED = event_name(Matter.CaseNumberAdded)
MATTER_DOCUMENT_REGISTERED = event_name(Matter.DocumentRegistered)
MATTER_LINKED = event_name(Matter.Linked)
MATTER_OPENED = event_name(Matter.Opened)
MEETING_APPEAL_LODGED = event_name(Meeting.AppealLodged)
MEETING_APPEAL_RESOLVED = event_name(Meeting.AppealResolved)
MEETING_CHECKERS_ELECTED = event_name(Meeting.CheckersElected)
MEETING_HELD = event_name(Meeting.Held)
MEETING_MINUTES_POSTED = event_name(Meeting.MinutesPosted)
MEETING_MINUTES_VERIFIED = event_name(Meeting.MinutesVerified)
MEETING_PARAGRAPH_RECORDED = event_name(Meeting.ParagraphRecorded)
MEETING_PARAGRAPH_VERIFIED = event_name(Meeting.ParagraphVerified)
MOTION_TABLED = event_name(Motion.Tabled)
ORGANISATION_BODY_ESTABLISHED = event_name(Organisation.BodyEstablished)
ORGANISATION_REGISTERED = event_name(Organisation.Registered)
ORGANISATION_ROLE_ASSIGNED = event_name(Organisation.RoleAssigned)
ORGANISATION_ROLE_ENDED = event_name(Organisation.RoleEnded)
RECOMMENDATION_ISSUED = event_name(Recommendation.Issued)
RECOMMENDATION_PRINCIPAL_DECIDED = event_name(Recommendation.PrincipalDecided)
RECOMMENDATION_PRINCIPAL_DECISION_WITHDRAWN = event_name(Recommendation.PrincipalDecisionWithdrawn)
