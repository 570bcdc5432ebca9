"""What the ledger accepts at its door: lengths, numbers, dates and characters, in one place.

Whatever the ledger accepts, every read model, the rebuild, the dashboard, the feed, the
export and the verifier must be able to process, forever: an event can never be removed.
So every value is checked here, before it is recorded, against what every one of those can
hold: a signed 64-bit integer (PostgreSQL ``bigint`` and ``jsonb``, orjson), a date whose
every derived date (an appeal period after a posting, the end of a timeline's axis, the day
after a validity ends) is still a date, and text PostgreSQL can store (no NUL). References
are identities, so they are normalised (NFC: a precomposed and a decomposed "Å" are one
entity) and may hold no character a reader cannot see. ``docs/limits.md`` lists every limit
with its reason; the pydantic types of ``ledger/commands.py`` apply them.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, get_args

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

#: The first and last domain date the ledger accepts. Public records of the bodies Samsyn
#: serves start in the 19th century; nothing is planned beyond the 30th. Every date the
#: read models and the dashboard derive (three weeks after, the next year's first day)
#: stays far inside what Python, SQLite and PostgreSQL can represent.
MIN_DATE = date(1800, 1, 1)
MAX_DATE = date(2999, 12, 31)

#: The largest number of a paragraph (§) or a point: far above any minutes, far below 2**63.
MAX_NUMBER = 1_000_000
#: The largest amount of funds one point allocates, and its decimals (öre, cents).
MAX_AMOUNT = Decimal(10) ** 15
AMOUNT_DECIMALS = 2

#: Lengths of strings, in characters, counted as sent (surrounding spaces stripped).
MAX_REF_LENGTH = 200
MAX_NAME_LENGTH = 300
MAX_TEXT_LENGTH = 20_000
MAX_MEDIA_TYPE_LENGTH = 100

#: Lengths of lists.
MAX_POINTS = 500
MAX_EFFECTS = 50
MAX_CONDITIONS = 50
MAX_CASE_NUMBERS = 100
MAX_PEOPLE = 100
MAX_ORGANISATIONS = 1_000

#: Request bodies, in bytes, checked before a byte is parsed: the default of
#: ``SAMSYN_MAX_BODY_BYTES`` (one command), and of ``SAMSYN_MAX_IMPORT_BYTES``
#: (``POST /v1/import``, a JSON Lines file of commands).
MAX_BODY_BYTES = 1024 * 1024
MAX_IMPORT_BYTES = 50 * 1024 * 1024

#: Explicit bidirectional formatting (embeddings, overrides, isolates): they reorder what a
#: reader sees without changing what is stored ("Trojan Source").
BIDI_CONTROLS = "\u202a-\u202e\u2066-\u2069"
#: What no text may hold: control characters but tab and line breaks (Unicode category Cc
#: is exactly U+0000-U+001F and U+007F-U+009F), lone surrogates, bidi formatting.
REFUSED_IN_TEXT = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff{BIDI_CONTROLS}]")
#: Unicode categories no reference or name may hold: controls, format characters (the
#: invisible ones: zero-width spaces and joiners, bidi marks, soft hyphens), surrogates,
#: private use, unassigned code points, line and paragraph separators, and every space but
#: the plain one (Zs is checked apart).
HIDDEN_IN_REFS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: ASCII characters no reference may hold (the only hidden ones ASCII has).
ASCII_HIDDEN = re.compile("[\x00-\x1f\x7f]")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def _hidden(char: str) -> bool:
    category = unicodedata.category(char)
    return category in HIDDEN_IN_REFS or (category == "Zs" and char != " ")


def reference(value: str) -> str:
    """A reference, case number, code or name: NFC, and nothing a reader cannot see.

    Spaces other than the plain one (no-break, thin, ideographic) are refused too: "A B"
    and "A\u00a0B" look alike and would otherwise name two entities. ASCII is checked by
    one regular expression and other text once per distinct character: a lookup of every
    character took most of a command's validation.
    """
    if value.isascii():
        found = ASCII_HIDDEN.search(value)
        hidden = [found.group()] if found else []
    else:
        value = unicodedata.normalize("NFC", value)
        hidden = [c for c in set(value) if _hidden(c)]
    if hidden:
        msg = (f"must not contain {_describe(min(hidden, key=value.index))}: references "
               "hold visible characters only")
        raise ValueError(msg)
    return value


def text(value: str) -> str:
    """Prose (a title, a justification): NFC, without NUL, other control characters,
    lone surrogates or bidi overrides. Tabs and line breaks are kept."""
    found = REFUSED_IN_TEXT.search(value)
    if found:
        msg = f"must not contain {_describe(found.group())}"
        raise ValueError(msg)
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def domain_date(value: date) -> date:
    """A date inside the range the ledger accepts (:data:`MIN_DATE` to :data:`MAX_DATE`)."""
    if not MIN_DATE <= value <= MAX_DATE:
        msg = (f"must be between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()} "
               "(leave an open end out rather than writing a far date)")
        raise ValueError(msg)
    return value


@cache
def date_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold a date."""
    return frozenset(name for name, field in model.model_fields.items()
                     if field.annotation is date or date in get_args(field.annotation))


def no_numbers_for_dates(model: type[BaseModel], data: dict[str, Any]) -> None:
    """Refuse a number given for a date field of ``model`` (pydantic would read it as
    seconds since 1970: 0 would be 1970-01-01)."""
    for name in date_fields(model):
        if isinstance(data.get(name), int | float):
            msg = f"{name}: a date is written YYYY-MM-DD, not as a number"
            raise ValueError(msg)


def moment(value: datetime) -> datetime:
    """A recorded moment asked about (``known_at``), in UTC (a naive one is read as UTC),
    whose day lies in the range the ledger accepts."""
    msg = f"must be a moment between {MIN_DATE.isoformat()} and {MAX_DATE.isoformat()} UTC"
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    try:
        utc = aware.astimezone(UTC)
    except OverflowError:
        raise ValueError(msg) from None
    if not MIN_DATE <= utc.date() <= MAX_DATE:
        raise ValueError(msg)
    return utc


Ref = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REF_LENGTH),
    AfterValidator(reference),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_LENGTH),
    AfterValidator(reference),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_LENGTH),
    AfterValidator(text),
]
QueryRef = Annotated[
    str, StringConstraints(max_length=MAX_NAME_LENGTH), AfterValidator(reference)]
MediaType = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
                      r"(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=[A-Za-z0-9!#$&^_.+\"-]+)*$",
                      max_length=MAX_MEDIA_TYPE_LENGTH),
]
DomainDate = Annotated[date, AfterValidator(domain_date)]
Moment = Annotated[datetime, AfterValidator(moment)]
Number = Annotated[int, Field(ge=1, le=MAX_NUMBER)]
Amount = Annotated[Decimal, Field(gt=0, le=MAX_AMOUNT, decimal_places=AMOUNT_DECIMALS,
                                  allow_inf_nan=False)]
