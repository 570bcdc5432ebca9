"""The log asks its witnesses to cosign each checkpoint, and keeps what they answer.

Configured by ``witnesses`` (``URL WITNESS_VKEY`` each), ``witness_quorum`` and
``witness_timeout`` in the settings. After the sealer signs a checkpoint it sends it to
every witness that has not cosigned it yet, all at once, each with a consistency proof from
the size that witness cosigned last (learnt from its 409 answer the first time:
tlog-witness allows starting from ``old 0``). Valid cosignature lines are added to the
kept checkpoint's note, so the API, exports and verifiers see them.

A witness that is down, slow or refusing costs at most two requests of ``timeout`` seconds
each, in parallel with the others, on the sealer's thread: appends never wait for it,
and it is asked again for the next checkpoint (which then covers everything since).
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog

from ledger.settings import Settings

from .cosignature import Policy, WitnessKey, cosigners, parse_witness_vkey
from .errors import KeyFormatError
from .log import IntegrityLog, StoredCheckpoint

log = structlog.get_logger(__name__)

SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessEndpoint:
    """Where a witness listens and the key its cosignatures must verify under."""

    url: str
    key: WitnessKey

    @classmethod
    def parse(cls, text: str) -> WitnessEndpoint:
        """From ``URL WITNESS_VKEY`` (as in the ``witnesses`` setting)."""
        url, _, vkey = text.strip().partition(" ")
        if not url.startswith(("http://", "https://")) or not vkey:
            raise KeyFormatError(f"a witness is 'URL WITNESS_VKEY', got {text!r}")
        return cls(url.rstrip("/"), parse_witness_vkey(vkey.strip()))


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str, str]:
    """(status, content type, body) of a POST; raises OSError when nothing answers."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return (response.status, response.headers.get("Content-Type", ""),
                    response.read(1 << 16).decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return (error.code, error.headers.get("Content-Type", ""),
                error.read(1 << 16).decode("utf-8", "replace"))


@dataclass(frozen=True)
class Attestation:
    """How far the witnesses vouch for the log: for the API and the dashboard."""

    witnesses: tuple[str, ...]
    quorum: int
    latest_tree_size: int | None
    latest_cosigned_by: tuple[str, ...]
    attested_tree_size: int | None
    """The largest recent checkpoint cosigned by at least ``quorum`` witnesses."""
    attested_by: tuple[str, ...]


def attestation(log: IntegrityLog, policy: Policy, scan: int = 100) -> Attestation:
    """Who cosigned the latest checkpoint, and the latest one (of the last ``scan``) that
    meets ``policy``."""
    recent = log.recent_checkpoints(scan)
    names = tuple(w.name for w in policy.witnesses)
    if not recent:
        return Attestation(names, policy.quorum, None, (), None, ())
    latest_by = tuple(w.name for w, _ in cosigners(recent[0].note, policy.witnesses))
    for checkpoint in recent:
        signed = tuple(w.name for w, _ in cosigners(checkpoint.note, policy.witnesses))
        if len(signed) >= policy.quorum:
            return Attestation(names, policy.quorum, recent[0].tree_size, latest_by,
                               checkpoint.tree_size, signed)
    return Attestation(names, policy.quorum, recent[0].tree_size, latest_by, None, ())


class Witnessing:
    """Gathers cosignatures for the log's latest checkpoint from the configured witnesses."""

    def __init__(
        self,
        log: IntegrityLog,
        witnesses: Sequence[WitnessEndpoint],
        quorum: int | None = None,
        *,
        timeout: float = 2.0,
        retry_every: float = 30.0,
    ) -> None:
        self.log = log
        self.witnesses = tuple(witnesses)
        self.policy = Policy(tuple(w.key for w in witnesses),
                             len(witnesses) if quorum is None else quorum)
        self.timeout = timeout
        self.retry_every = retry_every
        self._known: dict[WitnessKey, int] = {}  # the size each witness cosigned last
        self._asked: tuple[int, float] = (-1, 0.0)  # (tree size, when) last asked

    @classmethod
    def from_settings(cls, log: IntegrityLog, settings: Settings) -> Witnessing | None:
        """The witnessing the settings configure (None when no witness is)."""
        if not settings.witnesses:
            return None
        return cls(log, [WitnessEndpoint.parse(w) for w in settings.witnesses],
                   settings.witness_quorum, timeout=settings.witness_timeout)

    def due(self, checkpoint: StoredCheckpoint) -> bool:
        """Ask now? For a new checkpoint at once; for the same one again every retry_every
        seconds while some witness has not cosigned it."""
        size, when = self._asked
        if checkpoint.tree_size != size:
            return True
        if time.monotonic() - when < self.retry_every:
            return False
        return len(cosigners(checkpoint.note, self.policy.witnesses)) < len(self.witnesses)

    def cosign_latest(self, *, force: bool = False) -> list[str]:
        """Ask the witnesses missing from the latest checkpoint; answer who cosigned now."""
        checkpoint = self.log.latest_checkpoint()
        if checkpoint is None or not (force or self.due(checkpoint)):
            return []
        self._asked = (checkpoint.tree_size, time.monotonic())
        present = {w for w, _ in cosigners(checkpoint.note, self.policy.witnesses)}
        missing = [w for w in self.witnesses if w.key not in present]
        if not missing:
            return []
        with ThreadPoolExecutor(len(missing), thread_name_prefix="samsyn-witness") as pool:
            answers = list(pool.map(lambda w: self._ask(w, checkpoint), missing))
        lines = [line for line in answers if line is not None]
        if lines:
            self.log.add_cosignatures(checkpoint.tree_size, lines)
        return [w.key.name for w, line in zip(missing, answers, strict=True) if line]

    def _ask(self, witness: WitnessEndpoint, checkpoint: StoredCheckpoint) -> str | None:
        """One witness's cosignature line on ``checkpoint``, or None (logged)."""
        size = checkpoint.tree_size
        old = self._known.get(witness.key, 0)
        for _ in range(2):  # a 409 tells the size it knows: one more try from there
            if old > size:
                log.warning("witness has seen a larger tree", witness=witness.key.name,
                            witnessed=old, size=size)
                return None
            proof = self.log.consistency_proof(old, size) if old else []
            body = (f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
                    + "\n" + checkpoint.note).encode()
            try:
                status, kind, text = _post(witness.url + "/add-checkpoint", body, self.timeout)
            except (OSError, ValueError) as exc:  # refused, unreachable, timed out
                log.warning("witness unreachable", witness=witness.key.name, error=str(exc))
                return None
            if status == 409 and kind.startswith(SIZE_TYPE) and text.strip().isdigit():
                old = int(text.strip())
                self._known[witness.key] = old
                continue
            if status != 200:
                log.warning("witness refused the checkpoint", witness=witness.key.name,
                            status=status, answer=text.strip()[:200])
                return None
            return self._accepted(witness, checkpoint, text)
        return None

    def _accepted(self, witness: WitnessEndpoint, checkpoint: StoredCheckpoint,
                  answer: str) -> str | None:
        """The answer's line that is a valid cosignature by ``witness`` (others ignored)."""
        for line in answer.splitlines(keepends=True):
            if cosigners(checkpoint.note + line, [witness.key]):
                self._known[witness.key] = checkpoint.tree_size
                return line if line.endswith("\n") else line + "\n"
        log.warning("witness answered no valid cosignature", witness=witness.key.name)
        return None
