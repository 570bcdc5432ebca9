"""Synthetic ledgers of any size: realistic, deterministic command streams in the import format.

``generate(events_target, seed)`` yields command dicts, one per line of a JSON Lines file in
the format of ``ledger/data/demo.jsonl`` (what ``ledger.commands.parse_command`` accepts and
``samsyn import`` records). Every command is accepted by the ledger when they are recorded
in order, and the stream stops as soon as the commands yielded so far append at least
``events_target`` ledger events (so the total overshoots by one command's events at most).

What it models, per region (default proportions are Sweden's: 21 regions with 290
municipalities between them; small targets get one region, 1M events all 21):

* reference data: the region (bodies RS and HSN), its municipalities (KS, some with a social
  committee SN), a joint body with its council (SVO) and officials' group, people in roles
  who sometimes change;
* matters with per-organisation case numbers (``RS/412/2021``, ``KS 2021/87``), extra case
  numbers when a municipality takes up a joint matter, links and documents;
* meetings on each body's calendar, with elected checkers, paragraphs, verification of the
  minutes (single paragraphs at once now and then), posting, and a few appeals;
* motions, and decisions on them (as proposed, amended, rejected), some with conditions
  that another body endorses;
* recommendations of the joint body to every principal of the region, and each principal's
  adopt/reject decision: some late, some missing, some deciding twice;
* consultations with partial, sometimes late, responses, and their closing;
* agreements extended, revised, terminated or replaced by a joint plan, each change decided
  by every party;
* assignments with deadline revisions and report-backs;
* corrections and voidings (duplicates registered in error, wrong meeting dates) in small
  proportions.

Run ``python -m bench.synthetic --events 100000 --seed 1 > ledger.jsonl``.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import random
import sys
import zlib
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

Command = dict[str, Any]
#: What a stream yields: when (the domain date, which orders the ledger), a priority that
#: orders commands of the same date across streams, and the command (None: just wait).
Item = tuple[date, int, Command | None]
Stream = Generator[Item, None, Any]

#: Municipalities per region in Sweden (21 regions, 290 municipalities), in the order regions
#: are added: a Jämtland-sized region first, the largest early, Gotland's single one late.
REGION_SIZES = (8, 13, 26, 12, 49, 9, 33, 15, 10, 16, 7, 14, 6, 13, 8, 12, 15, 10, 5, 1, 8)
#: Ledger events per region before the generator adds a second one.
EVENTS_PER_REGION = 45_000
HISTORY_START = date(2018, 1, 1)
HISTORY_YEARS = 6.0

# Same-date ordering across streams: a meeting is held before anything is decided at it,
# and verified after.
HOLD, OPENING, NORMAL, AT_ONCE, VERIFY, POST, WAIT = 0, 1, 5, 6, 7, 8, 9

#: Ledger events a decision's effect appends besides the decision itself.
EFFECT_EVENTS = {
    "adopt_recommendation": 1, "reject_recommendation": 1, "endorse_decision": 0,
    "adopt_agreement": 1, "extend_agreement": 1, "revise_agreement": 1,
    "terminate_agreement": 1, "replace_agreement": 1, "allocate_funds": 0,
    "give_assignment": 1, "set_deadline": 1,
}
#: Effects whose record a voided decision withdraws (one event each).
WITHDRAWN = {"adopt_recommendation", "reject_recommendation", "adopt_agreement",
             "extend_agreement", "revise_agreement", "terminate_agreement",
             "replace_agreement", "give_assignment"}

PLACE_HEADS = ("Stor", "Lill", "Norr", "Söder", "Öster", "Väster", "Berg", "Sjö", "Älv", "Skog",
               "Ång", "Hög", "Lång", "Bred", "Mal", "Ek", "Björk", "Gran", "Lind", "Asp", "Sand",
               "Sten", "Kvarn", "Myr")
PLACE_TAILS = ("sund", "by", "dal", "holm", "vik", "köping", "berg", "ås", "fors", "näs", "tuna",
               "hamn", "lund", "torp", "å", "hult", "sjö", "stad", "mark", "ed")
FIRST_NAMES = ("Anna", "Lars", "Karin", "Mikael", "Eva", "Johan", "Maria", "Per", "Sara",
               "Anders", "Lena", "Erik", "Ingrid", "Magnus", "Sofia", "Nils", "Elin", "Olof",
               "Helena", "Jonas", "Kristina", "Fredrik", "Åsa", "Göran")
LAST_NAMES = ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
              "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg",
              "Lindqvist", "Berglund", "Sjöberg", "Holm", "Ek", "Forsberg", "Åberg", "Nyström",
              "Hedlund", "Wikström", "Öberg")
PARTIES = ("S", "M", "C", "KD", "V", "L", "MP", "SD")
TOPICS = ("hemsjukvård", "hjälpmedel", "psykiatri för barn och unga", "äldres hälsa",
          "e-hälsa och digitala vårdtjänster", "rehabilitering", "missbruk och beroende",
          "primärvård", "läkemedelsförsörjning", "första linjens vård", "suicidprevention",
          "demensvård", "palliativ vård", "samordnad individuell plan", "barnhälsovård",
          "ungdomsmottagningar", "utskrivning från slutenvård", "nära vård", "kompetensförsörjning",
          "kris- och katastrofberedskap")
AGREEMENT_KINDS = ("Samverkansavtal om {}", "Avtal om {}", "Överenskommelse om {}")
STANCES = ("supports", "supports", "supports_with_comments", "supports_with_comments",
           "objects", "no_opinion", "not_stated")
REASONS_DUPLICATE = ("Beslutet registrerades två gånger; denna registrering är en dubblett.",
                     "Felaktigt registrerat under fel ärende; rätt registrering finns.",
                     "Dubbelregistrering vid import från diariet.")


def _genitive(name: str) -> str:
    return name if name.endswith(("s", "x", "z")) else f"{name}s"


def _sha(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _day_of(month_start: date, weekday: int, week: int) -> date:
    """The ``week``-th (0-based) ``weekday`` of the month starting ``month_start``."""
    first = month_start + timedelta(days=(weekday - month_start.weekday()) % 7)
    return first + timedelta(weeks=week)


@dataclass
class Meeting:
    ref: str
    organisation: str
    body: str
    held_on: date
    next_number: int
    last_number: int
    paragraphs: list[int] = field(default_factory=list)


@dataclass
class Agreement:
    ref: str
    title: str
    parties: list[str]
    matter: dict[str, str]
    valid_from: date
    until: date | None
    available_from: date
    busy: bool = False
    ended: bool = False


@dataclass
class Region:
    index: int
    ref: str
    name: str
    municipalities: list[str]
    joint_body: str
    council: str = "SVO"
    officials: str = "TJG"
    social_committees: list[str] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    matters: list[tuple[date, dict[str, str]]] = field(default_factory=list)
    roles: dict[tuple[str, str], tuple[str, str | None, date]] = field(default_factory=dict)
    plan_pending: bool = False
    budget: int = 0

    @property
    def principals(self) -> list[str]:
        return [self.ref, *self.municipalities]

    def deciding_body(self, principal: str) -> str:
        return "RS" if principal == self.ref else "KS"


class Join:
    """Runs ``action`` once ``count`` streams have finished."""

    def __init__(self, count: int, action: Callable[[], None]) -> None:
        self.count = count
        self.action = action
        if count == 0:
            action()

    def done(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.action()


class Synthesizer:
    """Builds the streams of every region and merges them in domain-date order."""

    def __init__(self, events_target: int, seed: int = 0, *, regions: int | None = None,
                 municipalities: int | None = None, start: date = HISTORY_START,
                 years: float = HISTORY_YEARS) -> None:
        self.target = events_target
        self.rng = random.Random(seed)
        self.seed = seed
        self.start = start
        self.span_days = years * 365.25
        self._heap: list[tuple[date, int, int, Command | None, Stream]] = []
        self._seq = itertools.count()
        self.now = date.min
        #: Ledger events the commands yielded so far append.
        self.emitted = 0
        self.meetings: dict[tuple[str, str, date], Meeting] = {}
        self.paragraph_counters: dict[tuple[str, str, int], int] = {}
        self.dnr_counters: dict[tuple[str, str, int], int] = {}
        self.counters: dict[str, int] = {}
        self.void_extra: dict[tuple[str, str], int] = {}
        self.wrong_meeting_refs: set[str] = set()
        count = regions or max(1, min(len(REGION_SIZES), events_target // EVENTS_PER_REGION))
        sizes = [municipalities or REGION_SIZES[i % len(REGION_SIZES)] for i in range(count)]
        places = self._place_names(count + sum(sizes))
        self.regions: list[Region] = []
        for i, size in enumerate(sizes):
            place = places.pop()
            munis = [places.pop() for _ in range(size)]
            region = Region(i, f"R-{place}", f"Region {place}", munis, f"SVO-{place}")
            region.social_committees = [m for m in munis if self.rng.random() < 0.4]
            self.regions.append(region)
        weights = [len(r.principals) for r in self.regions]
        for region, weight in zip(self.regions, weights, strict=True):
            region.budget = max(1, events_target * weight // sum(weights))

    # The merge ------------------------------------------------------------------------------

    def spawn(self, stream: Stream, then: Callable[[], None] | None = None) -> None:
        """Start a stream; its first item must not lie before the current date."""
        self._push(self._finishing(stream, then) if then else stream)

    @staticmethod
    def _finishing(stream: Stream, then: Callable[[], None]) -> Stream:
        yield from stream
        then()  # runs once the stream's last command has been emitted

    def _push(self, stream: Stream) -> None:
        item = next(stream, None)
        if item is None:
            return
        when, priority, command = item
        if when < self.now:
            msg = f"generator bug: {command} dated {when} after {self.now}"
            raise AssertionError(msg)
        heapq.heappush(self._heap, (when, priority, next(self._seq), command, stream))

    def commands(self) -> Iterator[Command]:
        for region in self.regions:
            self.spawn(self.setup(region))
            self.spawn(self.driver(region))
        while self._heap and self.emitted < self.target:
            when, _, _, command, stream = heapq.heappop(self._heap)
            self.now = when
            if command is not None:
                self.emitted += self.events_of(command)
                yield command
            self._push(stream)
            if len(self.meetings) > 5000:
                self.meetings = {k: m for k, m in self.meetings.items() if m.held_on >= when}

    def events_of(self, command: Command) -> int:
        """How many ledger events the command appends."""
        kind = command["type"]
        if kind == "OpenMatter":
            return 1 + len(command["case_numbers"])
        if kind == "AddCaseNumber":
            return 2
        if kind == "RecordDecision":
            effects = [e for p in command["points"] for e in p.get("effects", [])]
            return (1 + (1 if command.get("meeting") else 0)
                    + sum(EFFECT_EVENTS[e["effect"]] for e in effects))
        if kind == "VoidEntry":
            entry = command["entry"]
            return 1 + self.void_extra.pop((entry["kind"], entry["ref"]), 0)
        return 1

    # Small helpers --------------------------------------------------------------------------

    def _place_names(self, count: int) -> list[str]:
        names = [h + t for h in PLACE_HEADS for t in PLACE_TAILS if h.lower() != t]
        self.rng.shuffle(names)
        while len(names) < count:  # more than the syllables give: number them
            names += [f"{n} {len(names) // 400 + 2}" for n in names[:400]]
        return names[:count]

    def later(self, *items: Item) -> None:
        """Things that happen later (a voiding, a correction), in a stream of their own, so
        that the stream asking for them can go on from an earlier date."""

        def stream() -> Stream:
            yield from items

        self.spawn(stream())

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def person(self, party: bool = False) -> str:
        name = f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"
        return f"{name} ({self.rng.choice(PARTIES)})" if party else name

    def serial(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]

    def dnr(self, organisation: str, series: str, year: int, municipal: bool) -> str:
        key = (organisation, series, year)
        n = self.dnr_counters.get(key, self.rng.randint(1, 30)) + self.rng.randint(1, 25)
        self.dnr_counters[key] = n
        return f"{series} {year}/{n}" if municipal else f"{series}/{n}/{year}"

    def text(self, topic: str, words: int) -> str:
        phrases = (f"Arbetet med {topic} ska bedrivas gemensamt av huvudmännen",
                   "med utgångspunkt i invånarnas behov och en jämlik vård",
                   "inom ramen för befintliga resurser och med tydlig ansvarsfördelning",
                   "och uppföljning sker årligen i det politiska samverkansorganet",
                   "i enlighet med lagen om samverkan vid utskrivning från slutenvården",
                   "där kommunernas och regionens ansvar beskrivs i gemensamma riktlinjer",
                   "för att stärka kontinuiteten och tillgängligheten i länet")
        out: list[str] = []
        while sum(len(p.split()) for p in out) < words:
            out.append(self.rng.choice(phrases))
        return ", ".join(out) + "."

    # Meetings -------------------------------------------------------------------------------

    def _schedule(self, organisation: str, body: str, not_before: date) -> date:
        """The first meeting of a body on or after ``not_before`` (monthly; councils less)."""
        salt = zlib.crc32(f"{self.seed}:{organisation}:{body}".encode())
        weekday, week = salt % 4 + 0, (salt >> 4) % 3
        months = (2, 3, 4, 6, 9, 10, 11, 12) if body == "SVO" else (1, 2, 3, 4, 5, 6, 8, 9, 10,
                                                                     11, 12)
        month = date(not_before.year, not_before.month, 1)
        while True:
            if month.month in months:
                held = _day_of(month, weekday, week)
                if held >= not_before:
                    return held
            month = (month + timedelta(days=32)).replace(day=1)

    def meeting(self, organisation: str, body: str, not_before: date) -> tuple[Meeting, int]:
        """The next meeting of the body with a free paragraph number, and that number."""
        when = not_before
        while True:
            held = self._schedule(organisation, body, when)
            key = (organisation, body, held)
            meeting = self.meetings.get(key)
            if meeting is None:
                year_key = (organisation, body, held.year)
                base = self.paragraph_counters.get(year_key, 0) + self.rng.randint(1, 4)
                size = 40 if organisation.startswith("R-") else 30
                self.paragraph_counters[year_key] = base + size
                meeting = Meeting(f"{organisation}/{body}/{held.isoformat()}", organisation, body,
                                  held, base, base + size - 1)
                self.meetings[key] = meeting
                self.spawn(self.meeting_stream(meeting))
            if meeting.next_number <= meeting.last_number:
                number = meeting.next_number
                meeting.next_number += 1
                meeting.paragraphs.append(number)
                return meeting, number
            when = held + timedelta(days=1)

    def meeting_stream(self, m: Meeting) -> Stream:
        if self.chance(0.01):
            wrong = m.held_on - timedelta(days=1)
            wrong_ref = f"{m.organisation}/{m.body}/{wrong.isoformat()}"
            if wrong_ref not in self.wrong_meeting_refs:
                self.wrong_meeting_refs.add(wrong_ref)
                self.spawn(self.wrong_meeting(m, wrong_ref, wrong))
        yield m.held_on, HOLD, {"type": "HoldMeeting", "ref": m.ref, "organisation": m.organisation,
                                "body": m.body, "held_on": m.held_on.isoformat(),
                                "title": f"{m.body} {m.held_on.isoformat()}"}
        checkers = [self.person(party=True) for _ in range(self.rng.choice((1, 2, 2)))]
        if self.chance(0.8):
            yield m.held_on, OPENING, {"type": "ElectCheckers", "meeting": m.ref,
                                       "checkers": checkers}
        if self.chance(0.4) and m.next_number <= m.last_number:
            number = m.next_number
            m.next_number += 1
            m.paragraphs.append(number)
            yield m.held_on, OPENING, {"type": "RecordParagraph", "meeting": m.ref,
                                       "number": number, "title": "Val av justerare"}
        verified = m.held_on + self.days(4, 14)
        yield verified, VERIFY, {"type": "VerifyMinutes", "meeting": m.ref,
                                 "verified_on": verified.isoformat(),
                                 "verified_by": ["Ordföranden", *checkers]}
        if not self.chance(0.9):
            return
        posted = verified + self.days(0, 3)
        yield posted, POST, {"type": "PostMinutes", "meeting": m.ref,
                             "posted_on": posted.isoformat()}
        if not self.chance(0.04):
            return
        lodged = posted + self.days(3, 20)
        appeal = f"Laglighetsprövning {m.ref} nr {self.serial('appeal')}"
        yield lodged, NORMAL, {"type": "LodgeAppeal", "meeting": m.ref,
                               "paragraph": self.rng.choice(m.paragraphs), "appeal_ref": appeal,
                               "lodged_on": lodged.isoformat(), "appellant": self.person(),
                               "court": "Förvaltningsrätten"}
        if self.chance(0.85):
            resolved = lodged + self.days(30, 240)
            yield resolved, NORMAL, {"type": "ResolveAppeal", "meeting": m.ref,
                                     "appeal_ref": appeal, "resolved_on": resolved.isoformat(),
                                     "outcome": self.rng.choice(("dismissed", "dismissed",
                                                                 "withdrawn", "upheld"))}

    def wrong_meeting(self, m: Meeting, ref: str, wrong: date) -> Stream:
        yield m.held_on, HOLD, {"type": "HoldMeeting", "ref": ref, "organisation": m.organisation,
                                "body": m.body, "held_on": wrong.isoformat()}
        voided = m.held_on + self.days(1, 10)
        yield voided, NORMAL, {"type": "VoidEntry", "entry": {"kind": "meeting", "ref": ref},
                               "reason": f"Sammanträdet registrerades med fel datum; rätt datum "
                                         f"är {m.held_on.isoformat()} ({m.ref})."}

    # Building blocks of episodes --------------------------------------------------------------

    def open_matter(self, region: Region, organisation: str, series: str, title: str,
                    when: date) -> Generator[Item, None, dict[str, str]]:
        municipal = organisation != region.ref
        number = {"organisation": organisation,
                  "dnr": self.dnr(organisation, series, when.year, municipal)}
        yield when, NORMAL, {"type": "OpenMatter", "title": title, "opened_on": when.isoformat(),
                             "case_numbers": [number]}
        if region.matters and self.chance(0.3):
            older = [m for d, m in region.matters[-50:] if d < when]
            if older:
                yield when, NORMAL, {"type": "LinkMatters", "matter": number,
                                     "other": self.rng.choice(older),
                                     "relation": self.rng.choice(("follows_up", "relates_to",
                                                                  "relates_to", "part_of"))}
        if self.chance(0.015):  # opened twice by mistake
            twin = {"organisation": organisation,
                    "dnr": self.dnr(organisation, series, when.year, municipal)}
            self.later(
                (when, NORMAL, {"type": "OpenMatter", "title": title,
                                "opened_on": when.isoformat(), "case_numbers": [twin]}),
                (when + self.days(1, 20), NORMAL, {
                    "type": "VoidEntry",
                    "entry": {"kind": "matter", "ref": f"{organisation}:{twin['dnr']}"},
                    "reason": f"Ärendet öppnades två gånger; det handläggs under "
                              f"{number['dnr']}."}))
        region.matters.append((when, number))
        if len(region.matters) > 200:
            del region.matters[:100]
        return number

    def document(self, matter: dict[str, str], organisation: str, kind: str, title: str,
                 when: date) -> Item:
        ref = f"{title} {self.serial('document')}"
        return when, NORMAL, {"type": "RegisterDocument", "matter": matter, "document_ref": ref,
                              "title": title, "kind": kind, "dated": when.isoformat(),
                              "organisation": organisation, "sha256": _sha(ref, self.seed),
                              "media_type": self.rng.choice(("application/pdf",
                                                             "application/pdf", "text/plain"))}

    def decide(self, region: Region, organisation: str, body: str, not_before: date,
               points: list[dict[str, Any]], *, title: str, matter: dict[str, str] | None = None,
               motion_p: float = 0.3, outcome: str | None = None, at_meeting: float = 0.9,
               conditions: list[dict[str, Any]] | None = None, justification: str | None = None,
               dispatched_to: list[str] | None = None, duplicate_p: float = 0.0,
               ) -> Generator[Item, None, tuple[str, date]]:
        """Record a body's decision (after a motion now and then); answer its ref and date."""
        when = not_before
        command: Command = {"type": "RecordDecision"}
        motion = None
        if self.chance(motion_p):
            motion = f"{organisation}/{body} förslag {self.serial('motion')}"
            yield when, NORMAL, {
                "type": "TableMotion", "ref": motion, "organisation": organisation, "body": body,
                "proposer": self.rng.choice((
                    "Tjänstemannagruppen" if organisation == region.joint_body
                    else "Regiondirektören" if organisation == region.ref
                    else "Kommundirektören", "Förvaltningen", "Ordföranden")),
                **({"matter": matter} if matter else {}), "tabled_on": when.isoformat(),
                "points": [{"number": p["number"], "text": p["text"]} for p in points],
                "justification": f"Tjänsteskrivelse: {title}."}
            if self.chance(0.02):  # tabled twice by mistake
                twin = f"{motion} (dubblett)"
                self.later(
                    (when, NORMAL, {"type": "TableMotion", "ref": twin,
                                    "organisation": organisation, "body": body,
                                    "proposer": "Förvaltningen", "tabled_on": when.isoformat(),
                                    "points": [{"number": 1, "text": title}]}),
                    (when + self.days(1, 5), NORMAL, {
                        "type": "VoidEntry", "entry": {"kind": "motion", "ref": twin},
                        "reason": self.rng.choice(REASONS_DUPLICATE)}))
            elif self.chance(0.02):
                fixed = when - self.days(1, 3)
                self.later((when + self.days(0, 3), NORMAL, {
                    "type": "CorrectEntry", "entry": {"kind": "motion", "ref": motion},
                    "field": "tabled_on", "right_value": fixed.isoformat(),
                    "reason": "Fel datum för tjänsteskrivelsen vid registreringen."}))
            when += self.days(7, 25)
            command_outcome = outcome or self.rng.choice(("as_proposed",) * 7 + ("amended",) * 2
                                                         + ("rejected",))
        else:
            command_outcome = "without_motion"
        if command_outcome == "rejected":
            points = [{"number": 1, "text": "Förslaget avslås."}]
        elif command_outcome == "amended":
            points = [*points, {"number": len(points) + 1,
                                "text": "Tillägg: uppföljning ska ske inom ett år."}]
        meeting = None
        if self.chance(at_meeting):
            meeting, number = self.meeting(organisation, body, when)
            when = meeting.held_on
            command.update(organisation=organisation, body=body, meeting=meeting.ref,
                           paragraph=number, paragraph_title=title[:200])
            ref = f"{meeting.ref} §{number}"
        else:
            when += self.days(0, 10)
            ref = f"{organisation}/{body} {when.isoformat()} beslut {self.serial('decision')}"
            command.update(ref=ref, organisation=organisation, body=body)
        command["decided_on"] = when.isoformat()
        if matter:
            command["matter"] = matter
        if motion:
            command.update(motion=motion, outcome=command_outcome)
        command["points"] = points
        if conditions:
            command["conditions"] = conditions
        if justification:
            command["justification"] = justification
        if dispatched_to:
            command["dispatched_to"] = dispatched_to
        yield when, NORMAL, command
        if meeting is not None and self.chance(0.08):
            yield when, AT_ONCE, {"type": "VerifyParagraph", "meeting": meeting.ref,
                                  "paragraph": command["paragraph"],
                                  "verified_on": when.isoformat(),
                                  "verified_by": ["Ordföranden", self.person(party=True)]}
        if self.chance(duplicate_p):
            twin = f"{organisation}/{body} {when.isoformat()} dubblett {self.serial('decision')}"
            effects = [e for p in points for e in p.get("effects", [])]
            self.void_extra[("decision", twin)] = sum(e["effect"] in WITHDRAWN for e in effects)
            self.later(
                (when, NORMAL, {"type": "RecordDecision", "ref": twin,
                                "organisation": organisation, "body": body,
                                "decided_on": when.isoformat(), "points": points}),
                (when + self.days(1, 30), NORMAL, {
                    "type": "VoidEntry", "entry": {"kind": "decision", "ref": twin},
                    "reason": self.rng.choice(REASONS_DUPLICATE)}))
        elif meeting is None and self.chance(0.05):
            right = when - self.days(1, 5)
            self.later((when + self.days(1, 20), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "decision", "ref": ref},
                "field": "decided_on", "right_value": right.isoformat(),
                "reason": "Beslutsdatum felskrivet vid registreringen; rätt datum enligt "
                          "delegationsbeslutet."}))
        elif self.chance(0.01):
            self.later((when + self.days(1, 20), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "decision", "ref": ref},
                "field": "justification", "right_value": self.text("beslutet", 20),
                "reason": "Motiveringen i registreringen var från ett annat ärende."}))
        return ref, when

    # Episodes -------------------------------------------------------------------------------

    def setup(self, r: Region) -> Stream:
        day = date(2017, 1, 2) + timedelta(days=r.index)

        def at(offset: int = 0) -> date:
            return day + timedelta(days=offset)

        yield at(), NORMAL, {"type": "RegisterOrganisation", "ref": r.ref, "name": r.name,
                             "kind": "principal", "registered_on": at().isoformat()}
        yield at(), NORMAL, {"type": "EstablishBody", "organisation": r.ref, "code": "RS",
                             "name": "Regionstyrelsen", "kind": "board"}
        yield at(), NORMAL, {"type": "EstablishBody", "organisation": r.ref, "code": "HSN",
                             "name": "Hälso- och sjukvårdsnämnden", "kind": "committee"}
        misspelled = []
        for m in r.municipalities:
            name = f"{_genitive(m)} kommun"
            if name != f"{m} kommun" and self.chance(0.1):
                misspelled.append(m)
                name = f"{m} kommun"
            yield at(), NORMAL, {"type": "RegisterOrganisation", "ref": m, "name": name,
                                 "kind": "principal", "registered_on": at().isoformat()}
            yield at(), NORMAL, {"type": "EstablishBody", "organisation": m, "code": "KS",
                                 "name": "Kommunstyrelsen", "kind": "board"}
            if m in r.social_committees:
                yield at(), NORMAL, {"type": "EstablishBody", "organisation": m, "code": "SN",
                                     "name": "Socialnämnden", "kind": "committee"}
        yield at(), NORMAL, {"type": "RegisterOrganisation", "ref": r.joint_body,
                             "name": f"Politiskt samverkansorgan för {r.name} och länets kommuner",
                             "kind": "joint_body", "registered_on": at().isoformat()}
        yield at(), NORMAL, {"type": "EstablishBody", "organisation": r.joint_body,
                             "code": r.council, "name": "Samverkansorganet", "kind": "council"}
        yield at(), NORMAL, {"type": "EstablishBody", "organisation": r.joint_body,
                             "code": r.officials, "name": "Tjänstemannagruppen",
                             "kind": "officials_group"}
        roles = [(r.ref, "Regiondirektör", None), (r.ref, "Ordförande", "HSN"),
                 (r.joint_body, "Ordförande", r.council)]
        roles += [(m, "Kommundirektör", None) for m in r.municipalities]
        for organisation, role, body in roles:
            person = self.person(party=role == "Ordförande")
            r.roles[(organisation, role)] = (person, body, at(1))
            yield at(1), NORMAL, {"type": "AssignRole", "organisation": organisation,
                                  "person": person, "role": role,
                                  **({"body": body} if body else {}),
                                  "valid_from": at(1).isoformat()}
        for m in misspelled:
            yield at(2), NORMAL, {"type": "CorrectEntry",
                                  "entry": {"kind": "organisation", "ref": m},
                                  "field": "name", "right_value": f"{_genitive(m)} kommun",
                                  "reason": "Namnet stavades fel vid registreringen."}
        for topic in self.rng.sample(TOPICS, 2):
            title = self.rng.choice(AGREEMENT_KINDS).format(topic)
            matter = yield from self.open_matter(r, r.ref, "RS", title, at(20))
            until = date(2019, 12, 31)
            yield at(20), NORMAL, {"type": "RegisterAgreement", "ref": f"{title} ({r.ref})",
                                   "title": title, "kind": "agreement", "parties": r.principals,
                                   "matter": matter, "valid_from": "2018-01-01",
                                   "valid_until": until.isoformat(), "concluded": True}
            r.agreements.append(Agreement(f"{title} ({r.ref})", title, r.principals, matter,
                                          date(2018, 1, 1), until, at(20)))

    def driver(self, r: Region) -> Stream:
        """Starts the region's episodes at a pace that spends its budget over the history."""
        setup_events = 12 + 5 * len(r.municipalities)
        episode_events = 6 + 1.5 * len(r.principals)
        episodes = max(1.0, (r.budget - setup_events) / episode_events)
        gap = self.span_days / episodes
        t = 0.0
        while True:
            t += self.rng.expovariate(1 / gap)
            now = self.start + timedelta(days=int(t))
            yield now, WAIT, None
            self.spawn(self.episode(r, now))

    def episode(self, r: Region, now: date) -> Stream:
        free = [a for a in r.agreements if not a.busy and not a.ended and a.available_from < now]
        kinds = ["recommendation", "consultation", "conditional", "local", "local", "local",
                 "staffing"]
        if free:
            kinds += ["extension", "extension", "revision"]
            if not r.plan_pending and self.chance(0.25):
                kinds.append("joint_plan")
            if len(free) > 1 and self.chance(0.2):
                kinds.append("termination")
        if len([a for a in r.agreements if not a.ended]) < 2:
            kinds.append("new_agreement")
        kind = self.rng.choice(kinds)
        if kind == "extension":
            return self.extension_round(r, self.rng.choice(free), now)
        if kind == "revision":
            return self.revision_round(r, self.rng.choice(free), now)
        if kind == "joint_plan":
            return self.joint_plan_round(r, self.rng.choice(free), now)
        if kind == "termination":
            return self.termination_round(r, self.rng.choice(free), now)
        if kind == "new_agreement":
            return self.new_agreement(r, now)
        if kind == "recommendation":
            return self.recommendation_round(r, now, self.rng.choice(TOPICS))
        if kind == "consultation":
            return self.consultation_round(r, now, self.rng.choice(TOPICS))
        if kind == "conditional":
            return self.conditional_decision(r, now)
        if kind == "staffing":
            return self.staffing(r, now)
        return self.local_matter(r, now)

    def recommend(self, r: Region, now: date, matter: dict[str, str], title: str,
                  points: list[dict[str, Any]], adopt_effects: list[dict[str, Any]],
                  then: Callable[[set[str]], None] | None = None,
                  missing_p: float = 0.06) -> Stream:
        """The joint body recommends; every principal decides on its own (or does not)."""
        jb_ref, issued = yield from self.decide(
            r, r.joint_body, r.council, now, [{"number": 1, "text": f"Samverkansorganet "
                                               f"rekommenderar huvudmännen: {title}."}],
            title=title, matter=matter, motion_p=0.2, outcome="as_proposed", at_meeting=0.95,
            justification=self.text(title, 25))
        ref = f"Rekommendation {jb_ref}"
        respond_by = issued + self.days(90, 150) if self.chance(0.8) else None
        yield issued, NORMAL, {
            "type": "IssueRecommendation", "ref": ref, "joint_body": r.joint_body, "title": title,
            "matter": matter, "decision": jb_ref, "issued_on": issued.isoformat(),
            "addressees": r.principals,
            **({"respond_by": respond_by.isoformat()} if respond_by else {}),
            "points": points, "justification": self.text(title, 40)}
        if respond_by and self.chance(0.05):
            respond_by += self.days(14, 60)
            self.later((issued + self.days(2, 20), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "recommendation", "ref": ref},
                "field": "respond_by", "right_value": respond_by.isoformat(),
                "reason": "Svarsdatum förlängt enligt beslut i samverkansorganet; fel datum "
                          "registrerades först."}))
        adopt_effects = [dict(e, recommendation=ref) if e["effect"] == "adopt_recommendation"
                         else e for e in adopt_effects]
        adopted: set[str] = set()
        join = Join(len(r.principals), lambda: then(adopted) if then else None)
        deadline = respond_by or issued + timedelta(days=120)
        for principal in r.principals:
            if self.chance(missing_p):
                join.done()
                continue
            self.spawn(self.principal_decides(r, principal, ref, issued, deadline, matter, title,
                                              adopt_effects, adopted), join.done)
        return ref

    def principal_decides(self, r: Region, principal: str, recommendation: str, issued: date,
                          deadline: date, matter: dict[str, str], title: str,
                          adopt_effects: list[dict[str, Any]], adopted: set[str]) -> Stream:
        late = self.chance(0.15)
        when = deadline + self.days(5, 120) if late else issued + self.days(
            10, max(11, (deadline - issued).days - 10))
        body = r.deciding_body(principal)
        if principal == r.ref and self.chance(0.2):
            body = "HSN"
        elif principal in r.social_committees and self.chance(0.2):
            body = "SN"
        own = matter
        if principal != r.ref and self.chance(0.5):
            own = {"organisation": principal,
                   "dnr": self.dnr(principal, "KS", when.year, municipal=True)}
            yield when, NORMAL, {"type": "AddCaseNumber", "matter": matter, "case_number": own}
        fate = self.rng.random()
        twice = fate < 0.05
        ending = any(e["effect"] in ("terminate_agreement", "replace_agreement")
                     for e in adopt_effects)
        first_effects: list[dict[str, Any]]
        if fate < 0.04 or (twice and (ending or self.chance(0.5))):
            first_effects = [{"effect": "reject_recommendation", "recommendation": recommendation}]
            text = f"{title}: rekommendationen avslås."
        elif fate < 0.13:
            first_effects = [{"effect": "adopt_recommendation", "recommendation": recommendation,
                              "with_amendments": True}, *adopt_effects[1:]]
            text = f"{title}: rekommendationen antas med ändringar."
        else:
            first_effects = adopt_effects
            text = f"{title}: rekommendationen antas."
        conditions = None
        conditional = principal == r.ref and body == "RS" and self.chance(0.3)
        if conditional:
            conditions = [{"text": "under förutsättning att hälso- och sjukvårdsnämnden "
                                   "ställer sig bakom beslutet",
                           "endorsement_by": {"organisation": r.ref, "body": "HSN"}}]
        ref, decided = yield from self.decide(
            r, principal, body, when, [{"number": 1, "text": text, "effects": first_effects}],
            title=title, matter=own, motion_p=0.35, at_meeting=0.9, conditions=conditions,
            dispatched_to=[r.joint_body] if self.chance(0.5) else None,
            duplicate_p=0.0 if ending else 0.01)
        if first_effects[0]["effect"] != "reject_recommendation":
            adopted.add(principal)
        latest = decided
        if conditional and self.chance(0.85):
            _, latest = yield from self.decide(
                r, r.ref, "HSN", decided + self.days(5, 40),
                [{"number": 1, "text": f"Nämnden ställer sig bakom regionstyrelsens beslut "
                                       f"{ref}.",
                  "effects": [{"effect": "endorse_decision", "decision": ref}]}],
                title=title, matter=own, motion_p=0.5)
        if twice:
            yield from self.decide(
                r, principal, r.deciding_body(principal), latest + self.days(30, 200),
                [{"number": 1, "text": f"{title}: rekommendationen antas (nytt beslut).",
                  "effects": adopt_effects}],
                title=title, matter=own, motion_p=0.5,
                justification="Frågan har beretts på nytt; tidigare beslut ersätts.")
            adopted.add(principal)

    def recommendation_round(self, r: Region, now: date, topic: str) -> Stream:
        title = f"Gemensamma riktlinjer för {topic}"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)
        if self.chance(0.5):
            yield self.document(matter, r.joint_body, "decision_basis", f"Underlag: {title}", now)
        effects: list[dict[str, Any]] = []
        if self.chance(0.3):
            effects.append({"effect": "allocate_funds",
                            "amount": str(self.rng.randint(2, 40) * 25_000), "currency": "SEK",
                            "purpose": f"Gemensam satsning på {topic}",
                            "funding_source": "Det riktade statsbidraget för nära vård"})
        rec_points = [{"number": 1, "text": f"Huvudmännen rekommenderas att anta {title}."}]
        yield from self.recommend(r, now, matter, title, rec_points, [
            {"effect": "adopt_recommendation", "recommendation": "?"}, *effects])

    def extension_round(self, r: Region, ag: Agreement, now: date) -> Stream:
        ag.busy = True
        base = max(ag.until or now, now)
        until = date(base.year + self.rng.choice((1, 1, 2)), 12, 31)
        title = f"Förlängning av {ag.title} till och med {until.isoformat()}"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)
        if self.chance(0.6):
            yield now, NORMAL, {"type": "LinkMatters", "matter": matter, "other": ag.matter,
                                "relation": "follows_up"}
        extend = {"effect": "extend_agreement", "agreement": ag.ref, "until": until.isoformat()}

        def finish(adopted: set[str]) -> None:
            if adopted >= set(ag.parties):
                ag.until = until
            ag.busy = False

        yield from self.recommend(
            r, now, matter, title,
            [{"number": 1, "text": f"Huvudmännen rekommenderas att förlänga avtalet till och "
                                   f"med {until.isoformat()}.", "effects": [extend]}],
            [{"effect": "adopt_recommendation", "recommendation": "?"}, extend], finish,
            missing_p=0.03)

    def parties_decide(self, r: Region, ag: Agreement, now: date, title: str,
                       effect: dict[str, Any], then: Callable[[], None],
                       spread: int = 120) -> None:
        """Every party decides the same change of an agreement, each in its own time."""
        join = Join(len(ag.parties), then)
        for party in ag.parties:
            self.spawn(self._party(r, party, now + self.days(7, spread), title, ag.matter,
                                   effect), join.done)

    def _party(self, r: Region, party: str, when: date, title: str, matter: dict[str, str],
               effect: dict[str, Any]) -> Stream:
        yield from self.decide(r, party, r.deciding_body(party), when,
                               [{"number": 1, "text": title, "effects": [effect]}],
                               title=title, matter=matter, motion_p=0.4)

    def revision_round(self, r: Region, ag: Agreement, now: date) -> Stream:
        ag.busy = True
        # from the new year, but never before the agreement starts (a joint plan may start
        # in April or October of next year)
        effective = max(date(now.year + 1, 1, 1), ag.valid_from)
        summary = self.rng.choice(("Bilaga 2 om ansvarsfördelning revideras",
                                   "Ersättningsnivåerna räknas upp",
                                   "Rutinen för samordnad vårdplanering revideras"))
        matter = ag.matter
        yield self.document(matter, r.ref, "agreement", f"Reviderat {ag.title}", now)
        self.parties_decide(r, ag, now, f"{summary} ({ag.title})",
                            {"effect": "revise_agreement", "agreement": ag.ref,
                             "summary": summary, "effective_on": effective.isoformat()},
                            lambda: setattr(ag, "busy", False))

    def termination_round(self, r: Region, ag: Agreement, now: date) -> Stream:
        ag.busy = True
        effective = date(now.year + 1, 6, 30)
        if ag.until and ag.until < effective:
            effective = ag.until
        effective = max(effective, ag.valid_from)

        def finish() -> None:
            ag.ended = True
            ag.busy = False

        yield self.document(ag.matter, r.ref, "memo", f"Uppsägning av {ag.title}", now)
        self.parties_decide(r, ag, now, f"{ag.title} upphör i förtid",
                            {"effect": "terminate_agreement", "agreement": ag.ref,
                             "effective_on": effective.isoformat()}, finish)

    def new_agreement(self, r: Region, now: date) -> Stream:
        topic = self.rng.choice(TOPICS)
        title = self.rng.choice(AGREEMENT_KINDS).format(topic)
        ref = f"{title} ({r.ref} {self.serial('agreement')})"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)
        concluded = self.chance(0.5)
        valid_from = date(now.year + (0 if concluded else 1), 1, 1)
        until = date(valid_from.year + 2, 12, 31)
        yield now, NORMAL, {"type": "RegisterAgreement", "ref": ref, "title": title,
                            "kind": "agreement", "parties": r.principals, "matter": matter,
                            "valid_from": valid_from.isoformat(),
                            "valid_until": until.isoformat(), "concluded": concluded}
        ag = Agreement(ref, title, r.principals, matter, valid_from, until, now, busy=True)
        r.agreements = [a for a in r.agreements if not a.ended] + [ag]
        if self.chance(0.5):
            yield self.document(matter, r.ref, "agreement", title, now)
        if concluded:
            ag.busy = False
            return
        self.parties_decide(r, ag, now, f"{title} antas",
                            {"effect": "adopt_agreement", "agreement": ref},
                            lambda: setattr(ag, "busy", False))

    def joint_plan_round(self, r: Region, old: Agreement, now: date) -> Stream:
        """Consultation on a joint plan, then a recommendation to adopt it in place of an
        agreement; every party adopts it and lets it replace the agreement."""
        old.busy = True
        r.plan_pending = True
        title = f"Gemensam plan för {self.rng.choice(TOPICS)} ({r.ref} {self.serial('plan')})"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)
        yield now, NORMAL, {"type": "LinkMatters", "matter": matter, "other": old.matter,
                            "relation": "replaces"}
        valid_from = date(now.year + 1, self.rng.choice((1, 4, 10)), 1)
        yield now, NORMAL, {"type": "RegisterAgreement", "ref": title, "title": title,
                            "kind": "joint_plan", "parties": r.principals, "matter": matter,
                            "valid_from": valid_from.isoformat(), "concluded": False}
        plan = Agreement(title, title, r.principals, matter, valid_from, None, now, busy=True)
        r.agreements.append(plan)
        yield self.document(matter, r.joint_body, "plan", title, now)

        def recommend_plan() -> None:
            def finish(adopted: set[str]) -> None:
                old.ended = adopted >= set(old.parties)
                old.busy = plan.busy = r.plan_pending = False

            when = max(self.now, now) + self.days(10, 40)
            self.spawn(self.recommend(
                r, when, matter, f"Fastställande av {title}",
                [{"number": 1, "text": f"Huvudmännen rekommenderas att fastställa {title}.",
                  "effects": [{"effect": "adopt_agreement", "agreement": title}]}],
                [{"effect": "adopt_recommendation", "recommendation": "?"},
                 {"effect": "adopt_agreement", "agreement": title},
                 {"effect": "replace_agreement", "agreement": old.ref, "replaced_by": title}],
                finish, missing_p=0.0))

        yield from self.consult(r, now, matter, title, recommend_plan)

    def consultation_round(self, r: Region, now: date, topic: str) -> Stream:
        title = f"Remiss: handlingsplan för {topic}"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)

        def follow_up() -> None:
            if self.chance(0.4):
                when = self.now + self.days(10, 40)
                self.spawn(self.recommend(
                    r, when, matter, f"Handlingsplan för {topic}",
                    [{"number": 1, "text": f"Huvudmännen rekommenderas att anta handlingsplanen "
                                           f"för {topic}."}],
                    [{"effect": "adopt_recommendation", "recommendation": "?"}]))

        yield from self.consult(r, now, matter, title, follow_up)

    def consult(self, r: Region, now: date, matter: dict[str, str], title: str,
                then: Callable[[], None]) -> Stream:
        by_region = self.chance(0.15)
        organisation = r.ref if by_region else r.joint_body
        body = "RS" if by_region else r.council
        decision, opens = yield from self.decide(
            r, organisation, body, now,
            [{"number": 1, "text": f"{title} skickas på remiss till huvudmännen."}],
            title=title, matter=matter, motion_p=0.2, outcome="as_proposed")
        ref = f"Remiss {title} ({decision})"
        opens += self.days(1, 5)
        closes = opens + self.days(60, 100)
        addressees = r.municipalities if by_region else r.principals
        yield opens, NORMAL, {"type": "OpenConsultation", "ref": ref,
                              "organisation": organisation, "subject": title, "matter": matter,
                              "decision": decision, "addressees": addressees,
                              "opens_on": opens.isoformat(), "closes_on": closes.isoformat()}
        if self.chance(0.1):
            closes += self.days(14, 30)
            self.later((opens + self.days(5, 30), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "consultation", "ref": ref},
                "field": "closes_on", "right_value": closes.isoformat(),
                "reason": "Remisstiden förlängdes i missivet; fel sista svarsdag registrerades."}))
        join = Join(len(addressees) + 1, then)
        for principal in addressees:
            if self.chance(0.3):  # no answer (as Bräcke, Härjedalen and Åre in 2023)
                join.done()
                continue
            self.spawn(self.respond(r, principal, ref, opens, closes, matter, title), join.done)
        self.spawn(self._close(ref, closes), join.done)

    def _close(self, ref: str, closes: date) -> Stream:
        if self.chance(0.9):
            closed = closes + self.days(0, 14)
            yield closed, NORMAL, {"type": "CloseConsultation", "consultation": ref,
                                   "closed_on": closed.isoformat()}

    def respond(self, r: Region, principal: str, consultation: str, opens: date, closes: date,
                matter: dict[str, str], title: str) -> Stream:
        late = self.chance(0.15)
        when = closes + self.days(1, 45) if late else opens + self.days(
            7, max(8, (closes - opens).days))
        decision = None
        if self.chance(0.4):
            body = "SN" if principal in r.social_committees else r.deciding_body(principal)
            decision, when = yield from self.decide(
                r, principal, body, when,
                [{"number": 1, "text": f"Yttrande över {title} lämnas enligt förvaltningens "
                                       f"förslag."}],
                title=f"Yttrande: {title}", matter=matter, motion_p=0.6)
        stance = self.rng.choice(STANCES)
        yield when, NORMAL, {"type": "RecordConsultationResponse", "consultation": consultation,
                             "principal": principal, "received_on": when.isoformat(),
                             "stance": stance,
                             **({"summary": self.text(title, 15)} if stance != "not_stated"
                                else {}),
                             **({"decision": decision} if decision else {})}
        if self.chance(0.3):
            yield self.document(matter, principal, "response", f"Remissvar från {principal}",
                                when)

    def conditional_decision(self, r: Region, now: date) -> Stream:
        """The regional board decides funds and an assignment, provided the health committee
        endorses; the assignment's deadline moves and it is reported back (or not)."""
        topic = self.rng.choice(TOPICS)
        title = f"Utvecklingsprojekt för {topic}"
        matter = yield from self.open_matter(r, r.ref, "RS", title, now)
        if self.chance(0.5):
            hsn = {"organisation": r.ref, "dnr": self.dnr(r.ref, "HSN", now.year, False)}
            yield now, NORMAL, {"type": "AddCaseNumber", "matter": matter, "case_number": hsn}
        yield self.document(matter, r.ref, "memo", f"Tjänsteskrivelse: {title}", now)
        assignment = f"{matter['dnr']} uppdrag {self.serial('assignment')}"
        due = now + self.days(120, 400)
        owner = r.roles.get((r.ref, "Regiondirektör"), ("Regiondirektören", None, now))[0]
        points = [
            {"number": 1, "text": f"Projektet för {topic} genomförs.",
             "effects": [{"effect": "allocate_funds",
                          "amount": str(self.rng.randint(1, 60) * 100_000), "currency": "SEK",
                          "purpose": f"Projektledning och insatser för {topic}",
                          "funding_source": "Regionstyrelsens avsatta medel"}]},
            {"number": 2, "text": "Regiondirektören får i uppdrag att återrapportera.",
             "effects": [{"effect": "give_assignment", "assignment": assignment,
                          "owner": owner, "task": f"Återrapportera projektet för {topic}.",
                          "due_on": due.isoformat()}]}]
        conditional = self.chance(0.6)
        decision, decided = yield from self.decide(
            r, r.ref, "RS", now + self.days(5, 30), points, title=title, matter=matter,
            motion_p=0.8, outcome="as_proposed",
            conditions=[{"text": "under förutsättning att hälso- och sjukvårdsnämnden ställer "
                                 "sig bakom beslutet",
                         "endorsement_by": {"organisation": r.ref, "body": "HSN"}}]
            if conditional else None,
            justification=self.text(topic, 30), dispatched_to=[r.joint_body])
        when = decided
        if conditional and self.chance(0.9):
            _, when = yield from self.decide(
                r, r.ref, "HSN", decided + self.days(3, 40),
                [{"number": 1, "text": f"Nämnden ställer sig bakom regionstyrelsens beslut "
                                       f"{decision}.",
                  "effects": [{"effect": "endorse_decision", "decision": decision}]}],
                title=title, matter=matter, motion_p=0.6, outcome="as_proposed")
        yield from self.assignment_life(r, r.ref, "RS", assignment, decided, when, due, matter,
                                        title)

    def assignment_life(self, r: Region, organisation: str, body: str, assignment: str,
                        given: date, now: date, due: date, matter: dict[str, str],
                        title: str) -> Stream:
        if self.chance(0.04):
            yield now + self.days(1, 10), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "assignment", "ref": assignment},
                "field": "owner", "right_value": self.person(),
                "reason": "Uppdraget gavs till en namngiven tjänsteperson, inte till funktionen."}
            now += timedelta(days=10)
        while self.chance(0.35):
            _, now = yield from self.decide(
                r, organisation, body, max(now, due - timedelta(days=60)),
                [{"number": 1, "text": "Tiden för återrapportering förlängs.",
                  "effects": [{"effect": "set_deadline", "assignment": assignment,
                               "due_on": (due + timedelta(days=120)).isoformat()}]}],
                title=title, matter=matter, motion_p=0.2)
            due = max(due, now) + timedelta(days=120)
        if not self.chance(0.8):
            return
        late = self.chance(0.25)
        when = max(now, due + self.days(5, 90) if late else due - self.days(0, 60), given)
        decision = None
        if self.chance(0.5):
            decision, when = yield from self.decide(
                r, organisation, body, when,
                [{"number": 1, "text": "Återrapporteringen läggs till handlingarna."}],
                title=f"Återrapportering: {title}", matter=matter, motion_p=0.3)
        yield when, NORMAL, {"type": "ReportBack", "assignment": assignment,
                             "reported_on": when.isoformat(),
                             "summary": self.text(title, 12),
                             **({"decision": decision} if decision else {})}

    def local_matter(self, r: Region, now: date) -> Stream:
        """A principal's own matter within the cooperation, often with an assignment."""
        principal = self.rng.choice(r.principals)
        body = r.deciding_body(principal) if principal != r.ref else self.rng.choice(("RS",
                                                                                      "HSN"))
        topic = self.rng.choice(TOPICS)
        title = f"Lokal handlingsplan för {topic} i {principal}"
        matter = yield from self.open_matter(r, principal, body if body != "SN" else "KS", title,
                                             now)
        if self.chance(0.5):
            yield self.document(matter, principal, "memo", f"Tjänsteskrivelse: {title}", now)
        points: list[dict[str, Any]] = [{"number": 1, "text": f"{title} antas."}]
        assignment = None
        due = now
        if self.chance(0.6):
            assignment = f"{matter['dnr']} uppdrag {self.serial('assignment')}"
            due = now + self.days(90, 360)
            points.append({"number": 2, "text": "Förvaltningen får i uppdrag att följa upp.",
                           "effects": [{"effect": "give_assignment", "assignment": assignment,
                                        "owner": "Kommundirektören" if principal != r.ref
                                        else "Hälso- och sjukvårdsdirektören",
                                        "task": f"Följa upp planen för {topic}.",
                                        "due_on": due.isoformat()}]})
        _, decided = yield from self.decide(
            r, principal, body, now + self.days(3, 30), points, title=title, matter=matter,
            motion_p=0.6, outcome="as_proposed" if assignment else None,
            justification=self.text(topic, 20) if self.chance(0.5) else None)
        if self.chance(0.03):
            self.later((decided + self.days(5, 40), NORMAL, {
                "type": "CorrectEntry", "entry": {"kind": "matter",
                                                  "ref": f"{principal}:{matter['dnr']}"},
                "field": "title", "right_value": f"{title} (reviderad titel)",
                "reason": "Ärendemeningen ändrades i diariet."}))
        if assignment:
            yield from self.assignment_life(r, principal, body, assignment, decided, decided,
                                            due, matter, title)

    def staffing(self, r: Region, now: date) -> Stream:
        key = self.rng.choice(sorted(r.roles))
        person, body, since = r.roles[key]
        organisation, role = key
        until = max(now, since + timedelta(days=1))
        successor = self.person(party=role == "Ordförande")
        start = until + timedelta(days=1)
        r.roles[key] = (successor, body, start)
        yield until, NORMAL, {"type": "EndRole", "organisation": organisation, "person": person,
                              "role": role, "valid_until": until.isoformat()}
        yield start, NORMAL, {"type": "AssignRole", "organisation": organisation,
                              "person": successor, "role": role,
                              **({"body": body} if body else {}),
                              "valid_from": start.isoformat()}


def generate(events_target: int, seed: int = 0, *, regions: int | None = None,
             municipalities: int | None = None) -> Iterator[Command]:
    """Commands of a realistic ledger of about ``events_target`` events, the same for a seed.

    ``regions`` (default: one per 45,000 events, at most 21) and ``municipalities`` (per
    region; default Sweden's sizes, 290 in all 21 regions) shape the cooperation.
    """
    synthesizer = Synthesizer(events_target, seed, regions=regions,
                              municipalities=municipalities)
    return synthesizer.commands()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000,
                        help="about how many ledger events (default 10,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--regions", type=int, help="default: one per 45,000 events, up to 21")
    parser.add_argument("--municipalities", type=int,
                        help="municipalities per region (default: Sweden's sizes)")
    args = parser.parse_args(argv)
    out = sys.stdout
    for command in generate(args.events, args.seed, regions=args.regions,
                            municipalities=args.municipalities):
        out.write(json.dumps(command, ensure_ascii=False))
        out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
