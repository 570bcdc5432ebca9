"""The dashboard's HTML pages: where things stand at ``/``, one matter, one decision.

Server-rendered from the read models (:class:`projections.queries.ReadModels`), the same
answers the JSON routes in ``api/routes/dashboard.py`` give, as of one domain date and
optionally as known at one recorded moment, both taken from the query string. Every
page works without JavaScript; ``static/dashboard.js`` only adds live updates and keys.

A page asked for with the header ``X-Samsyn-After: N`` (as the live script does after
the event stream announced entry N) first waits, briefly, until the read models have
applied the ledger up to N, so that what it shows includes that entry.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from api.auth import current_account
from api.dashboard.strings import DEFAULT, SYMBOLS, Language, Strings, language
from api.dashboard.timeline import decision_path, matter_path, timelines
from api.dashboard.views import (
    agreement_existed,
    assignment_order,
    consultation_existed,
    matrix,
    summary,
)
from api.routes.integrity import policy_of
from ledger import limits
from ledger.integrity.witnessing import Attestation, attestation
from projections.consultations import ConsultationResponse, ConsultationStatus
from projections.matter_timeline import TimelineEntry
from projections.queries import ReadModels
from projections.runner import RunnerFailed
from projections.search import MAX_QUERY

log = structlog.get_logger("samsyn.dashboard")
W = TypeVar("W", date, datetime)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
#: Where :func:`static_files` is mounted (see ``api/app.py``).
STATIC_PATH = "/static/dashboard"
#: How long a page asked for after entry N waits for the read models to reach N.
WAIT_SECONDS = 5.0

#: Only this origin: no CDN, no external fonts or scripts, no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_account)])
templates = Jinja2Templates(directory=HERE / "templates")


def static_files() -> StaticFiles:
    """The page's stylesheet and script, to mount at :data:`STATIC_PATH`."""
    return StaticFiles(directory=STATIC_DIR)


def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


ASSETS = {name: f"{STATIC_PATH}/{name}?v={_fingerprint(name)}"
          for name in ("dashboard.css", "dashboard.js")}


@dataclass(frozen=True)
class Page:
    """One request's language, dates and links: everything a template needs besides data."""

    path: str
    lang: Language
    today: date
    as_of: date
    known_at: datetime | None
    as_of_param: str | None
    known_at_param: str | None
    error: str | None = None
    position: int = 0
    recorded_until: datetime | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    t: Strings = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t", Strings(self.lang))

    @property
    def live(self) -> bool:
        """Whether new entries can change what the page shows."""
        if self.error is not None:
            return False
        return self.known_at is None or self.known_at > datetime.now(UTC)

    @property
    def known_at_utc(self) -> str:
        """The moment asked about, in UTC, as the date control shows it."""
        return self.known_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if self.known_at else ""

    def link(self, path: str, **changes: str | None) -> str:
        """``path`` with this page's date, moment and language, changed by ``changes``."""
        params: dict[str, str | None] = {
            "as_of": self.as_of_param,
            "known_at": self.known_at_param,
            "lang": self.lang if self.lang != DEFAULT else None,
        }
        params.update(changes)
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{path}?{query}" if query else path

    def decision(self, ref: str) -> str:
        return self.link(decision_path(ref))

    def matter(self, case_number: str) -> str:
        return self.link(matter_path(case_number))

    def other_language(self) -> str:
        return self.link(self.path, lang="en" if self.lang == "sv" else "sv")

    def today_link(self) -> str:
        return self.link(self.path, as_of=None, known_at=None)

    def org(self, ref: str) -> Markup:
        """An organisation by its full name, with the reference registrars use on hover."""
        name = self.names.get(ref.casefold())
        if name is None or name == ref:
            return escape(ref)
        return Markup('<span class="org" title="{}">{}</span>').format(ref, name)


def _inside(t: Strings, name: str, given: str, check: Callable[[W], W],
            value: W) -> tuple[W | None, str | None]:
    """``value`` if it lies in the range the ledger accepts, else None and why not."""
    try:
        return check(value), None
    except ValueError:
        return None, t("when.out_of_range", field=t(f"field.{name}"), value=given,
                       first=limits.MIN_DATE.isoformat(), last=limits.MAX_DATE.isoformat())


def read_page(request: Request, as_of: str | None, known_at: str | None,
              lang: str | None) -> Page:
    """The page's dates from the query string; a value that is no date is reported."""
    models: ReadModels = request.app.state.read_models
    today = models.today()
    chosen = language(lang)
    t = Strings(chosen)
    error = None
    moment = None
    if known_at:
        try:
            moment = datetime.fromisoformat(known_at)
        except ValueError:
            error = t("when.invalid", field=t("field.known_at"), value=known_at)
        else:
            moment, error = _inside(t, "known_at", known_at, limits.moment, moment)
    day = moment.date() if moment else today
    if as_of:
        try:
            asked, wrong = _inside(t, "as_of", as_of, limits.domain_date,
                                   date.fromisoformat(as_of))
        except ValueError:
            asked, wrong = None, t("when.invalid", field=t("field.as_of"), value=as_of)
        day, error = asked or day, wrong or error
    return Page(
        path=request.url.path, lang=chosen, today=today, as_of=day, known_at=moment,
        as_of_param=as_of or None, known_at_param=known_at or None, error=error,
    )


def caught_up(request: Request, page: Page, after: str | None) -> Page:
    """The page at the position the read models have reached, read before any query, so
    that the live script asks for everything after what the page shows.

    With ``after`` (``X-Samsyn-After``), first wait at most :data:`WAIT_SECONDS` until the
    read models have applied that entry.
    """
    runner = request.app.state.runner
    models: ReadModels = request.app.state.read_models
    if after and after.strip().isdigit():
        position = int(after)
        try:
            if runner is not None:
                runner.wait_until(position, timeout=WAIT_SECONDS)
            else:
                deadline = time.monotonic() + WAIT_SECONDS
                while models.position() < position and time.monotonic() < deadline:
                    time.sleep(0.1)
        except (TimeoutError, RunnerFailed) as e:
            log.warning("page rendered before the read models caught up", after=position,
                        error=str(e))
    position = models.position()
    names = {o.ref.casefold(): o.name
             for o in models.organisations(as_of=page.as_of, known_at=page.known_at)}
    return replace(page, position=position, recorded_until=recorded_at(request, position),
                   names=names)


def recorded_at(request: Request, position: int) -> datetime | None:
    """When the entry at ``position`` was recorded: how current what the page shows is."""
    if position < 1:
        return None
    found = request.app.state.ledger.read(after=position - 1, limit=1)
    return found[0].recorded_at if found else None


def render(request: Request, page: Page, template: str, status: int = 200,
           **context: Any) -> Response:
    response = templates.TemplateResponse(
        request, template,
        {"page": page, "t": page.t, "assets": ASSETS, "symbols": SYMBOLS, **context},
        status_code=status,
    )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Content-Language"] = page.lang
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


After = Annotated[str | None, Header(alias="X-Samsyn-After")]


def latest_responses(c: ConsultationStatus) -> list[ConsultationResponse]:
    """Each responding principal's latest response, in the order the read model names them."""
    latest: dict[str, ConsultationResponse] = {}
    for r in sorted(c.responses, key=lambda r: r.position):
        latest[r.principal.casefold()] = r
    return [latest[p.casefold()] for p in c.responded if p.casefold() in latest]


ROUND_ORDER: Mapping[str, int] = {"open": 0, "period_ended": 1, "not_yet_open": 2, "closed": 3}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, as_of: str | None = None, known_at: str | None = None,
         lang: str | None = None, after: After = None) -> Response:
    """Where things stand: agreements, adoption, consultations and assignments."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "home.html", status=400)
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    at: dict[str, Any] = {"as_of": page.as_of, "known_at": page.known_at}
    agreements = sorted((a for a in models.list_agreements(**at)
                         if agreement_existed(a, page.as_of)),
                        key=lambda a: (a.valid_from, a.ref))
    adoptions = sorted(models.list_adoption(**at), key=lambda a: (a.issued_on, a.ref))
    consultations = sorted(
        (c for c in models.consultations(**at) if consultation_existed(c, page.as_of)),
        key=lambda c: (ROUND_ORDER.get(c.state, 9), -c.opens_on.toordinal(), c.ref),
    )
    assignments = assignment_order(models.assignments(**at))
    return render(
        request, page, "home.html",
        figures=summary(agreements, adoptions, consultations, assignments),
        timelines=timelines(agreements, page.as_of, page.t, page.link),
        matrix=matrix(adoptions),
        consultations=[(c, latest_responses(c)) for c in consultations],
        assignments=[a for a in assignments if a.status != "done"],
        done=[a for a in assignments if a.status == "done"],
        attestation=attested(request),
    )


def attested(request: Request) -> Attestation | None:
    """How far the principals' witnesses attest the log (None without witnesses)."""
    policy = policy_of(request)
    integrity = getattr(request.app.state, "integrity", None)
    if policy is None or integrity is None:
        return None
    return attestation(integrity, policy)


def by_year(entries: tuple[TimelineEntry, ...], opened_on: date) -> list[tuple[int, list[Any]]]:
    ordered = sorted(entries, key=lambda e: (e.on or opened_on, e.position))
    return [(year, list(group)) for year, group in
            groupby(ordered, key=lambda e: (e.on or opened_on).year)]


@router.get("/matters/{case_number:path}", response_class=HTMLResponse)
def matter(request: Request, case_number: str, as_of: str | None = None,
           known_at: str | None = None, lang: str | None = None,
           after: After = None) -> Response:
    """The whole timeline of one matter, across organisations and case numbers."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "matter.html", status=400, case_number=case_number)
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    organisation, _, dnr = case_number.partition(":")
    found = models.matter_timeline(organisation, dnr, as_of=page.as_of,
                                   known_at=page.known_at) if dnr else None
    if found is None:
        return render(request, page, "matter.html", status=404, case_number=case_number)
    return render(request, page, "matter.html", case_number=case_number, matter=found,
                  years=by_year(found.entries, found.opened_on))


@router.get("/decisions/{ref:path}", response_class=HTMLResponse)
def decision(request: Request, ref: str, as_of: str | None = None, known_at: str | None = None,
             lang: str | None = None, after: After = None) -> Response:
    """One decision: its points, verification, conditions and appeals."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "decision.html", status=400, ref=ref)
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    found = models.decision(ref, as_of=page.as_of, known_at=page.known_at)
    if found is None:
        return render(request, page, "decision.html", status=404, ref=ref)
    return render(request, page, "decision.html", ref=ref, decision=found)


@router.get("/organisations", response_class=HTMLResponse)
def organisations(request: Request, as_of: str | None = None, known_at: str | None = None,
                  lang: str | None = None, after: After = None) -> Response:
    """Who takes part: every organisation with its bodies and the people in its roles."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "organisations.html", status=400)
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    found = models.organisations(as_of=page.as_of, known_at=page.known_at)
    return render(request, page, "organisations.html", organisations=found)


#: Decisions on one page of the register.
REGISTER_PAGE = 50


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/decisions", response_class=HTMLResponse)
def decision_register(
    request: Request, as_of: str | None = None, known_at: str | None = None,
    lang: str | None = None, organisation: str | None = None, body: str | None = None,
    from_: Annotated[str | None, Query(alias="from")] = None, to: str | None = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0, after: After = None,
) -> Response:
    """The decision register: by organisation, body and period, a page at a time."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "decisions.html", status=400, filters={})
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    filters = {"organisation": organisation or None, "body": body or None,
               "from": from_ if _day(from_) else None, "to": to if _day(to) else None}
    found, total = models.decisions_page(
        organisation=filters["organisation"], body=filters["body"], from_=_day(from_),
        to=_day(to), as_of=page.as_of, known_at=page.known_at, offset=offset,
        limit=REGISTER_PAGE)
    choices = [(o.ref, o.name)
               for o in models.organisations(as_of=page.as_of, known_at=page.known_at)]
    return render(request, page, "decisions.html", decisions=found, total=total,
                  offset=offset, limit=REGISTER_PAGE, filters=filters, organisations=choices)


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q: str = "", as_of: str | None = None,
                known_at: str | None = None, lang: str | None = None) -> Response:
    """Search the titles, decision points and justifications, as of the page's date."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "search.html", status=400, query=q, hits=[])
    page = caught_up(request, page, None)
    models: ReadModels = request.app.state.read_models
    query = q.strip()[:MAX_QUERY]
    hits = models.search(query, as_of=page.as_of, known_at=page.known_at) if query else []
    return render(request, page, "search.html", query=query, hits=hits)


@router.get("/matters", response_class=HTMLResponse)
def matter_list(request: Request, as_of: str | None = None, known_at: str | None = None,
                lang: str | None = None, after: After = None) -> Response:
    """Every matter, most recently opened first, each leading to its whole timeline."""
    page = read_page(request, as_of, known_at, lang)
    if page.error:
        return render(request, page, "matters.html", status=400, matters=[])
    page = caught_up(request, page, after)
    models: ReadModels = request.app.state.read_models
    return render(request, page, "matters.html",
                  matters=models.matters(as_of=page.as_of, known_at=page.known_at))
