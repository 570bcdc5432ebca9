"""A compact version of the real history (DOMAIN.md): nine principals, one agreement, two rounds.

Recorded times follow the domain dates by a day unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

from tests.projections.conftest import Registrar

REGION = "RJH"
MUNICIPALITIES = [
    "Berg",
    "Bräcke",
    "Härjedalen",
    "Krokom",
    "Ragunda",
    "Strömsund",
    "Åre",
    "Östersund",
]
PRINCIPALS = [REGION, *MUNICIPALITIES]
AGREEMENT = "Hemsjukvårdsavtalet"
BOARD_DECISION = "RJH/RS/2021-03-25 §63"
ASSIGNMENT = "RS/203/2021 uppdrag 6"
RECOMMENDATION = "SVOM 2021-06-04 §20"
CONSULTATION = "Remiss gemensam plan 2023"
RESPONDENTS = ["Ragunda", "Krokom", "Berg", "Strömsund", "Östersund", REGION]
SILENT = ["Bräcke", "Härjedalen", "Åre"]

#: When each municipality's board extended the agreement to 2021-12-31.
FIRST_EXTENSION_DAYS = {
    "Berg": "2021-04-13",
    "Bräcke": "2021-04-20",
    "Härjedalen": "2021-04-27",
    "Krokom": "2021-05-04",
    "Ragunda": "2021-05-11",
    "Strömsund": "2021-05-18",
    "Åre": "2021-05-25",
    "Östersund": "2021-06-15",
}
#: When each principal decided on the second extension (to 2022-12-31).
SECOND_EXTENSION_DAYS = {
    REGION: "2021-09-28",
    "Berg": "2021-10-12",
    "Bräcke": "2021-10-19",
    "Härjedalen": "2021-11-02",
    "Krokom": "2021-11-16",
    "Ragunda": "2021-12-07",
    "Strömsund": "2022-01-18",
    "Åre": "2022-02-15",
    "Östersund": "2022-05-10",
}


def day_after(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat() + "T10:00:00"


def reference_data(reg: Registrar) -> None:
    reg.record(
        {
            "type": "RegisterOrganisation",
            "ref": REGION,
            "name": "Region Jämtland Härjedalen",
            "kind": "principal",
            "registered_on": "2017-01-01",
        },
        at="2017-01-02T09:00:00",
    )
    reg.record(
        {
            "type": "EstablishBody",
            "organisation": REGION,
            "code": "RS",
            "name": "Regionstyrelsen",
            "kind": "board",
        }
    )
    reg.record(
        {
            "type": "EstablishBody",
            "organisation": REGION,
            "code": "HSN",
            "name": "Hälso- och sjukvårdsnämnden",
            "kind": "committee",
        }
    )
    for municipality in MUNICIPALITIES:
        reg.record(
            {
                "type": "RegisterOrganisation",
                "ref": municipality,
                "name": f"{municipality} kommun",
                "kind": "principal",
                "registered_on": "2017-01-01",
            }
        )
        reg.record(
            {
                "type": "EstablishBody",
                "organisation": municipality,
                "code": "KS",
                "name": "Kommunstyrelsen",
                "kind": "board",
            }
        )
    reg.record(
        {
            "type": "RegisterOrganisation",
            "ref": "SVOM",
            "name": "Samverkansorgan",
            "kind": "joint_body",
            "registered_on": "2017-01-01",
        }
    )
    reg.record(
        {
            "type": "EstablishBody",
            "organisation": "SVOM",
            "code": "SVOM",
            "name": "Samverkansorganet",
            "kind": "council",
        }
    )


def agreement(reg: Registrar) -> None:
    reg.record(
        {
            "type": "OpenMatter",
            "title": "Hemsjukvårdsavtalet",
            "opened_on": "2017-01-01",
            "case_numbers": [{"organisation": REGION, "dnr": "RS/730/2017"}],
        },
        at="2017-01-03T09:00:00",
    )
    reg.record(
        {
            "type": "RegisterAgreement",
            "ref": AGREEMENT,
            "title": "Samverkan kring hemsjukvård",
            "parties": PRINCIPALS,
            "matter": {"organisation": REGION, "dnr": "RS/730/2017"},
            "valid_from": "2017-01-01",
            "valid_until": "2020-12-31",
        }
    )


def board_decision(reg: Registrar) -> None:
    """RS 2021-03-25: six points, extending the agreement, on condition that HSN endorses."""
    reg.record(
        {
            "type": "OpenMatter",
            "title": "Gemensam plan i länet för vårdnivån primärvård",
            "opened_on": "2021-03-01",
            "case_numbers": [{"organisation": REGION, "dnr": "RS/203/2021"}],
        },
        at="2021-03-02T09:00:00",
    )
    reg.record(
        {"type": "HoldMeeting", "organisation": REGION, "body": "RS", "held_on": "2021-03-25"},
        at="2021-03-26T09:00:00",
    )
    reg.record(
        {
            "type": "RecordDecision",
            "organisation": REGION,
            "body": "RS",
            "meeting": "RJH/RS/2021-03-25",
            "paragraph": 63,
            "decided_on": "2021-03-25",
            "matter": {"organisation": REGION, "dnr": "RS/203/2021"},
            "points": [
                {"number": 1, "text": "Följande mål för god och nära vård antas."},
                {
                    "number": 2,
                    "text": "Hemsjukvårdsavtalet förlängs till och med 2021-12-31.",
                    "effects": [
                        {
                            "effect": "extend_agreement",
                            "agreement": AGREEMENT,
                            "until": "2021-12-31",
                        }
                    ],
                },
                {"number": 3, "text": "Regionen står bakom SVOMs projektplan."},
                {
                    "number": 4,
                    "text": "1,5 miljoner kronor avsätts.",
                    "effects": [
                        {
                            "effect": "allocate_funds",
                            "amount": "1500000",
                            "purpose": "projektledare och kommunikation",
                        }
                    ],
                },
                {"number": 5, "text": "Finansiering genom statsbidraget God och nära vård."},
                {
                    "number": 6,
                    "text": "Regiondirektören återkommer hösten 2021.",
                    "effects": [
                        {
                            "effect": "give_assignment",
                            "assignment": ASSIGNMENT,
                            "owner": "Regiondirektören",
                            "task": "redovisa arbetet",
                            "due_on": "2021-11-30",
                        }
                    ],
                },
            ],
            "conditions": [
                {
                    "text": "under förutsättning att HSN ställer sig bakom beslutet",
                    "endorsement_by": {"organisation": REGION, "body": "HSN"},
                }
            ],
        }
    )


def endorsement(reg: Registrar, at: str = "2021-04-21T09:00:00") -> None:
    """HSN 2021-04-20 endorses the board's decision (HSN/485/2021)."""
    reg.record(
        {
            "type": "AddCaseNumber",
            "matter": {"organisation": REGION, "dnr": "RS/203/2021"},
            "case_number": {"organisation": REGION, "dnr": "HSN/485/2021"},
        },
        at=at,
    )
    reg.record(
        {"type": "HoldMeeting", "organisation": REGION, "body": "HSN", "held_on": "2021-04-20"}
    )
    reg.record(
        {
            "type": "RecordDecision",
            "organisation": REGION,
            "body": "HSN",
            "meeting": "RJH/HSN/2021-04-20",
            "paragraph": 41,
            "decided_on": "2021-04-20",
            "matter": {"organisation": REGION, "dnr": "HSN/485/2021"},
            "points": [
                {
                    "number": 1,
                    "text": "HSN ställer sig bakom Regionstyrelsens beslut.",
                    "effects": [{"effect": "endorse_decision", "decision": BOARD_DECISION}],
                }
            ],
        }
    )


def municipal_extension(reg: Registrar, municipality: str, day: str, at: str | None = None) -> None:
    reg.record(
        {
            "type": "RecordDecision",
            "ref": f"{municipality} KS {day}",
            "organisation": municipality,
            "body": "KS",
            "decided_on": day,
            "points": [
                {
                    "number": 1,
                    "text": "Hemsjukvårdsavtalet förlängs till 2021-12-31.",
                    "effects": [
                        {
                            "effect": "extend_agreement",
                            "agreement": AGREEMENT,
                            "until": "2021-12-31",
                        }
                    ],
                }
            ],
        },
        at=at or day_after(day),
    )


def recommendation(reg: Registrar) -> None:
    reg.record(
        {
            "type": "IssueRecommendation",
            "ref": RECOMMENDATION,
            "joint_body": "SVOM",
            "title": "Förlängning av hemsjukvårdsavtalet till 2022-12-31",
            "issued_on": "2021-06-04",
            "addressees": PRINCIPALS,
            "respond_by": "2022-06-30",
            "points": [
                {
                    "number": 1,
                    "text": "Avtalet förlängs till och med 2022-12-31.",
                    "effects": [
                        {
                            "effect": "extend_agreement",
                            "agreement": AGREEMENT,
                            "until": "2022-12-31",
                        }
                    ],
                }
            ],
        },
        at="2021-06-07T09:00:00",
    )


def second_extension(reg: Registrar, principal: str, day: str) -> None:
    effects: list[dict[str, Any]] = [
        {"effect": "adopt_recommendation", "recommendation": RECOMMENDATION},
        {"effect": "extend_agreement", "agreement": AGREEMENT, "until": "2022-12-31"},
    ]
    if principal == REGION:
        reg.record(
            {"type": "HoldMeeting", "organisation": REGION, "body": "RS", "held_on": day},
            at=day_after(day),
        )
        reg.record(
            {
                "type": "RecordDecision",
                "organisation": REGION,
                "body": "RS",
                "meeting": f"RJH/RS/{day}",
                "paragraph": 170,
                "decided_on": day,
                "points": [
                    {
                        "number": 3,
                        "text": "Avtalet förlängs till och med 2022-12-31.",
                        "effects": effects,
                    }
                ],
                "dispatched_to": ["SVOM", "Länets kommuner"],
            }
        )
        reg.record(
            {
                "type": "VerifyParagraph",
                "meeting": f"RJH/RS/{day}",
                "paragraph": 170,
                "verified_on": day,
                "verified_by": ["ordförande", "justerare"],
            }
        )
        return
    reg.record(
        {
            "type": "RecordDecision",
            "ref": f"{principal} KS {day}",
            "organisation": principal,
            "body": "KS",
            "decided_on": day,
            "points": [
                {
                    "number": 1,
                    "text": "Avtalet förlängs till och med 2022-12-31.",
                    "effects": effects,
                }
            ],
        },
        at=day_after(day),
    )


def consultation(reg: Registrar) -> None:
    reg.record(
        {
            "type": "OpenConsultation",
            "ref": CONSULTATION,
            "organisation": "SVOM",
            "subject": "Gemensam plan för hälso- och sjukvård",
            "addressees": PRINCIPALS,
            "opens_on": "2023-05-29",
            "closes_on": "2023-08-31",
        },
        at="2023-05-29T09:00:00",
    )
    for n, principal in enumerate(RESPONDENTS):
        reg.record(
            {
                "type": "RecordConsultationResponse",
                "consultation": CONSULTATION,
                "principal": principal,
                "received_on": f"2023-08-{10 + n:02d}",
                "stance": "supports_with_comments",
            },
            at=f"2023-08-{11 + n:02d}T09:00:00",
        )


def real_history(reg: Registrar) -> None:
    """The whole compact history, in the order it was recorded."""
    reference_data(reg)
    agreement(reg)
    board_decision(reg)
    endorsement(reg)
    for municipality, day in FIRST_EXTENSION_DAYS.items():
        municipal_extension(reg, municipality, day)
    recommendation(reg)
    for principal, day in SECOND_EXTENSION_DAYS.items():
        second_extension(reg, principal, day)
    consultation(reg)
