"""The geometry of the agreement timelines, drawn server-side as inline SVG.

Horizontal positions are percentages of the drawing's width and vertical ones are
pixels, so a timeline stretches to any screen while its text keeps the page's size.
Every agreement on the page shares one axis, so that an agreement and the plan that
replaces it line up. Nothing here knows a county, a party or an agreement by name:
all of it comes from :class:`~projections.agreement_status.AgreementStatus`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal
from urllib.parse import quote

from api.dashboard.strings import Strings
from projections.agreement_status import AgreementChange, AgreementStatus, PartyDecision
from projections.derivations import same

#: Space left at each side of the axis, in percent of the width.
PAD = 1.5
#: At most this many year ticks are labelled; longer spans label every n-th year.
MAX_TICKS = 12
ONE_DAY = timedelta(days=1)
#: Marks closer than this (percent of the width) go on separate rows, so that none
#: hides another on a phone's narrow axis.
MARK_GAP = 4.0
#: Vertical layout in pixels: the bar, the first row of marks, the room per extra row.
BAR_Y, MARK_Y, ROW = 24, 80, 16

SegmentStyle = Literal["registered", "extension", "pending", "cut", "awaiting"]
Link = Callable[[str], str]


@dataclass(frozen=True)
class Axis:
    """Days mapped onto the drawing's width, from ``start`` to ``end`` (exclusive)."""

    start: date
    end: date

    def x(self, day: date) -> float:
        span = max((self.end - self.start).days, 1)
        offset = min(max((day - self.start).days, 0), span)
        return round(PAD + (100 - 2 * PAD) * offset / span, 3)

    def ticks(self) -> list[Tick]:
        years = list(range(self.start.year, self.end.year + 1))
        step = max(1, -(-len(years) // MAX_TICKS))
        return [
            Tick(label=str(year), x=self.x(date(year, 1, 1)), labelled=i % step == 0
                 and year < self.end.year, minor=(i // step) % 2 == 1)
            for i, year in enumerate(years)
        ]


@dataclass(frozen=True)
class Tick:
    label: str
    x: float
    labelled: bool
    minor: bool


@dataclass(frozen=True)
class Segment:
    """A stretch of the validity bar: ``start`` to ``end`` inclusive (None: open-ended)."""

    style: SegmentStyle
    start: date
    end: date | None
    x: float
    width: float
    title: str
    href: str


@dataclass(frozen=True)
class Mark:
    """A change, placed on the day it took effect (or the day of its latest decision)."""

    x: float
    in_force: bool
    title: str
    href: str
    y: int = MARK_Y


@dataclass(frozen=True)
class ChangeView:
    anchor: str
    change: AgreementChange
    label: str
    state_label: str
    decisions: tuple[PartyDecision, ...]


@dataclass(frozen=True)
class AgreementView:
    anchor: str
    status: AgreementStatus
    segments: tuple[Segment, ...]
    marks: tuple[Mark, ...]
    endings: tuple[float, ...]
    end_label: str
    end_x: float
    end_anchor: Literal["start", "end"]
    validity: str
    height: int
    changes: tuple[ChangeView, ...]
    replaces: tuple[tuple[str, str], ...]
    superseded_by: tuple[str, str] | None


@dataclass(frozen=True)
class Timelines:
    axis: Axis
    ticks: tuple[Tick, ...]
    as_of_x: float
    agreements: tuple[AgreementView, ...]


def next_day(day: date) -> date:
    """The day after ``day``; the last day Python knows has none, and stays itself. The
    ledger accepts no such date (see ``ledger/limits.py``), but entries recorded before it
    refused them are drawn all the same."""
    return day + ONE_DAY if day < date.max else day


def axis_for(agreements: Sequence[AgreementStatus], as_of: date) -> Axis:
    """Whole years around every date the agreements speak of, and the date asked about."""
    days = [as_of]
    for a in agreements:
        days += [d for d in (a.valid_from, a.valid_until, a.registered_valid_until, a.ends_on)
                 if d is not None]
        for c in a.history:
            days += [d for d in (c.until, c.effective_on, c.in_force_from) if d is not None]
            days += [p.decided_on for p in (*c.decided, *c.awaiting_conditions)]
    last = max(days)
    end = date(last.year + 1, 1, 1) if last.year < date.max.year else date.max
    return Axis(date(min(days).year, 1, 1), end)


def change_label(change: AgreementChange, t: Strings) -> str:
    """What the change does, in words: "Extension until 2022-12-31"."""
    if change.kind == "extend" and change.until is not None:
        return t("change.extend_until", day=change.until.isoformat())
    if change.kind == "terminate" and change.effective_on is not None:
        return t("change.terminate_on", day=change.effective_on.isoformat())
    if change.kind == "replace" and change.replaced_by is not None:
        if change.effective_on is not None:
            return t("change.replace_by_on", ref=change.replaced_by,
                     day=change.effective_on.isoformat())
        return t("change.replace_by", ref=change.replaced_by)
    label = t.of("change", change.kind)
    return f"{label}: {change.summary}" if change.summary else label


def _segments(
    a: AgreementStatus, axis: Axis, t: Strings, anchors: dict[int, str], own: str
) -> list[Segment]:
    """The validity bar: the registered period, each extension in force, what an ending cut
    off, and each pending extension (dashed)."""
    last = axis.end - ONE_DAY

    def segment(style: SegmentStyle, start: date, end: date | None, title: str,
                href: str) -> Segment:
        right = axis.x(next_day(end)) if end is not None else axis.x(axis.end)
        left = axis.x(start)
        return Segment(style, start, end, left, round(max(right - left, 0.4), 3), title, href)

    if a.status == "awaiting_adoption":
        adopt = next((i for i, c in enumerate(a.history) if c.kind == "adopt"), None)
        href = f"#{anchors[adopt]}" if adopt is not None else f"#{own}"
        return [segment("awaiting", a.valid_from, a.valid_until, t("agreements.awaiting_segment"),
                        href)]
    planned: list[tuple[SegmentStyle, date | None, str, str]] = [(
        "registered", a.registered_valid_until,
        t("agreements.registered_validity", start=a.valid_from.isoformat(),
          end=a.registered_valid_until.isoformat() if a.registered_valid_until
          else t("agreements.open_end")),
        f"#{own}",
    )]
    extensions = sorted(
        ((i, c) for i, c in enumerate(a.history)
         if c.kind == "extend" and c.state == "in_force" and c.until is not None),
        key=lambda ic: ic[1].until or last,
    )
    for i, c in extensions:
        previous = planned[-1][1]
        if previous is not None and c.until is not None and c.until > previous:
            planned.append(("extension", c.until,
                            t("agreements.extension_segment", day=c.until.isoformat()),
                            f"#{anchors[i]}"))
    end = a.valid_until
    pieces: list[Segment] = []
    start = a.valid_from
    for style, until, title, href in planned:
        if end is not None and start > end:
            if a.ends_on is not None:
                pieces.append(segment("cut", start, until, t(
                    "agreements.cut_segment", day=a.ends_on.isoformat()), href))
        elif end is not None and (until is None or until > end):
            pieces.append(segment(style, start, end, title, href))
            if a.ends_on is not None:
                pieces.append(segment("cut", next_day(end), until, t(
                    "agreements.cut_segment", day=a.ends_on.isoformat()), href))
        else:
            pieces.append(segment(style, start, until, title, href))
        if until is None:
            break
        start = next_day(until)
    if end is not None and a.ends_on is None:
        for i, c in enumerate(a.history):
            if c.kind == "extend" and c.state == "pending" and c.until and c.until > end:
                pieces.append(segment("pending", next_day(end), c.until, t(
                    "agreements.pending_segment", day=c.until.isoformat()), f"#{anchors[i]}"))
    return pieces


def _mark(
    c: AgreementChange, parties: int, axis: Axis, t: Strings, anchor: str, link: Link
) -> Mark | None:
    decisions = (*c.decided, *c.awaiting_conditions)
    day = c.in_force_from if c.state != "pending" else max(
        (d.decided_on for d in decisions), default=None)
    if day is None:
        return None
    title = t("agreements.change_mark", change=change_label(c, t),
              state=t.of("change_state", c.state), decided=len(c.decided), parties=parties)
    href = link(decision_path(decisions[0].decision)) if len(decisions) == 1 else f"#{anchor}"
    return Mark(axis.x(day), c.state != "pending", title, href)


def _stacked(marks: list[Mark]) -> list[Mark]:
    """Each mark on the first row where it keeps :data:`MARK_GAP` from the one before."""
    rows: list[float] = []
    placed = []
    for m in sorted(marks, key=lambda m: m.x):
        row = next((r for r, last in enumerate(rows) if m.x - last >= MARK_GAP), len(rows))
        if row == len(rows):
            rows.append(m.x)
        rows[row] = m.x
        placed.append(replace(m, y=MARK_Y + row * ROW))
    return placed


def decision_path(ref: str) -> str:
    """The page of one decision (its ref may hold slashes, spaces and §)."""
    return "/decisions/" + quote(ref, safe="/")


def matter_path(case_number: str) -> str:
    """The page of one matter, by any of its case numbers as ``ORGANISATION:DNR``."""
    return "/matters/" + quote(case_number, safe="/:")


def timelines(
    agreements: Sequence[AgreementStatus], as_of: date, t: Strings, link: Link
) -> Timelines:
    """Everything the agreement section draws, on one shared axis."""
    axis = axis_for(agreements, as_of)
    own = {a.ref.casefold(): f"agreement-{n}" for n, a in enumerate(agreements)}
    views = []
    for a in agreements:
        anchor = own[a.ref.casefold()]
        anchors = {i: f"{anchor}-change-{i}" for i in range(len(a.history))}
        segments = _segments(a, axis, t, anchors, anchor)
        marks = _stacked([m for i, c in enumerate(a.history)
                          if (m := _mark(c, len(a.parties), axis, t, anchors[i], link))])
        endings = (axis.x(a.ends_on),) if a.ends_on is not None else ()
        if a.valid_until is not None and a.status != "awaiting_adoption":
            end_x = axis.x(next_day(a.valid_until))
            end_label = t("agreements.until", day=a.valid_until.isoformat())
            end_anchor: Literal["start", "end"] = "end" if end_x > 20 else "start"
        else:
            end_x = axis.x(a.valid_from)
            end_label = t("agreements.from", day=a.valid_from.isoformat())
            end_anchor = "start" if end_x < 75 else "end"
        if a.status == "awaiting_adoption":
            validity = t("agreements.awaiting", start=a.valid_from.isoformat())
        elif a.valid_until is None:
            validity = t("agreements.valid_open", start=a.valid_from.isoformat())
        else:
            validity = t("agreements.valid", start=a.valid_from.isoformat(),
                         end=a.valid_until.isoformat())
        changes = tuple(
            ChangeView(anchors[i], c, change_label(c, t), t.of("change_state", c.state),
                       (*c.decided, *c.awaiting_conditions))
            for i, c in enumerate(a.history)
        )
        replaces = tuple(
            (other.ref, own[other.ref.casefold()]) for other in agreements
            if any(c.kind == "replace" and c.replaced_by and same(c.replaced_by, a.ref)
                   for c in other.history)
        )
        superseded = (
            (a.superseded_by, own.get(a.superseded_by.casefold(), anchor))
            if a.superseded_by else None
        )
        views.append(AgreementView(
            anchor=anchor, status=a, segments=tuple(segments), marks=tuple(marks),
            endings=endings, end_label=end_label, end_x=end_x, end_anchor=end_anchor,
            validity=validity, height=max((m.y for m in marks), default=MARK_Y) + 32,
            changes=changes, replaces=replaces, superseded_by=superseded,
        ))
    return Timelines(axis, tuple(axis.ticks()), axis.x(as_of), tuple(views))
