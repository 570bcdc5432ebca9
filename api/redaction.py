"""One redaction policy: what readers who may not see who recorded what are shown.

Decisions are public records; who registered them, and the ledger's bookkeeping of
clients' retries, are not. For an account that does not see recorders (anonymous readers
and the *reader* role; see :attr:`~api.accounts.Account.sees_recorders`) every route
applies the same two rules, through these functions only:

- ``recorded_by`` is null wherever it appears: the feed, its live stream, an entry's
  history, and every read model's answer (a matter's timeline, the audit trail);
- bookkeeping entries (idempotency keys, whose reference is ``<account>:<key>``) are left
  out of the feed, its live stream and histories; positions still move past them.

Everyone else sees every entry as recorded.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from api.accounts import Account
from ledger.application import Entry
from projections.pipeline import UNTRACKED_KINDS, kind_of

#: A ``recorded_by`` member of the compact JSON pydantic writes. Inside a JSON string a
#: quote is always escaped, so this matches members only, at any depth.
RECORDED_BY = re.compile(rb'"recorded_by":(?:"(?:[^"\\]|\\.)*"|null)')


def recorder(entry: Entry, account: Account) -> str | None:
    """Who recorded ``entry``, as ``account`` may see it."""
    return entry.recorded_by if account.sees_recorders else None


def shown(entries: Iterable[Entry], account: Account) -> list[Entry]:
    """Those of ``entries`` ``account`` is shown: all, or all but bookkeeping."""
    if account.sees_recorders:
        return list(entries)
    return [e for e in entries if kind_of(e.topic) not in UNTRACKED_KINDS]


def redacted_json(body: bytes, account: Account) -> bytes:
    """A read model's JSON answer as ``account`` may see it: every ``recorded_by`` null."""
    if account.sees_recorders:
        return body
    return RECORDED_BY.sub(b'"recorded_by":null', body)
