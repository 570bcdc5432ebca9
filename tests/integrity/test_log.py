"""The integrity log over a real store (SQLite and PostgreSQL): sealing, checkpoints, proofs,
exports and the sealer thread."""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import RecordConflictError, StoredEvent

from ledger.application import Ledger
from ledger.integrity.canonical import LedgerEntry
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.errors import TreeError
from ledger.integrity.log import (
    LEAVES,
    ExportRangeError,
    IntegrityLog,
    LogDamaged,
    NotSealed,
    default_key_path,
    default_origin,
    entry_of,
    recorded_at_text,
)
from ledger.integrity.merkle import (
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from ledger.integrity.sealer import Sealer
from ledger.integrity.verify import export_lines, verify_export
from ledger.settings import Settings
from tests.ledger.world import decision, run, world

ORIGIN = "samsyn.test/ledger"

Store = tuple[Settings, str | None]


def open_log(store: Store, ledger: Ledger | None, tmp_path: Path) -> IntegrityLog:
    settings, schema = store
    return IntegrityLog(settings, schema, key_path=tmp_path / "signing.key", origin=ORIGIN,
                        ledger=ledger)


@pytest.fixture
def integrity(store: Store, ledger: Ledger, tmp_path: Path) -> Iterator[IntegrityLog]:
    log = open_log(store, ledger, tmp_path)
    yield log
    log.close()


class Raw:
    """Direct SQL on the store, behind the ledger's back: what a tamperer (or a test) does."""

    def __init__(self, store: Store) -> None:
        settings, schema = store
        self.postgres = settings.is_postgres
        self.settings = settings
        if self.postgres:
            self.events = f'"{schema}"."samsyn_events"'
            self.leaves = f'"{schema}"."{LEAVES}"'
            self.checkpoints = f'"{schema}"."samsyn_integrity_checkpoints"'
            self.pos = "notification_id"
        else:
            self.events, self.leaves = "stored_events", LEAVES
            self.checkpoints = "samsyn_integrity_checkpoints"
            self.pos = "rowid"

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        sql = sql.format(events=self.events, pos=self.pos, leaves=self.leaves,
                         checkpoints=self.checkpoints)
        if self.postgres:
            with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
                cur = conn.execute(sql.replace("?", "%s").encode(), params)
                return cur.fetchall() if cur.description else []
        with sqlite3.connect(self.settings.sqlite_path) as conn:
            rows = conn.execute(sql, params).fetchall()
        conn.close()
        return rows

    def positions(self) -> list[int]:
        return [int(r[0]) for r in self.run("SELECT {pos} FROM {events} ORDER BY {pos}")]

    def state(self, position: int) -> bytes:
        return bytes(self.run("SELECT state FROM {events} WHERE {pos} = ?", (position,))[0][0])

    def set_state(self, position: int, state: bytes) -> None:
        self.run("UPDATE {events} SET state = ? WHERE {pos} = ?", (state, position))

    def delete(self, position: int) -> None:
        self.run("DELETE FROM {events} WHERE {pos} = ?", (position,))


def make_gap(ledger: Ledger, raw: Raw) -> int:
    """Leave a gap in the positions, as a rolled-back append does; answer the skipped one.

    A conflicting save rolls back. PostgreSQL's sequence has then handed out a number no
    row will have. SQLite numbers rows max+1 and never skips, so there the rows appended
    after it are moved up by one to give the same picture (1, 2, 4).
    """
    first = ledger.recorder.select_notifications(start=1, limit=1)[0]
    head = ledger.max_position()
    with pytest.raises(RecordConflictError):
        ledger.recorder.insert_events([StoredEvent(
            originator_id=first.originator_id, originator_version=first.originator_version,
            topic=first.topic, state=first.state,
        )])
    receipt = run(ledger, decision("Alfa", "2021-07-01"))
    if not raw.postgres:
        for position in sorted(receipt.positions, reverse=True):
            raw.run("UPDATE {events} SET rowid = rowid + 1 WHERE rowid = ?", (position,))
    assert raw.positions()[-len(receipt.positions) - 1:][:2] == [head, head + 2]
    return head + 1


def entries_from_scratch(ledger: Ledger) -> list[LedgerEntry]:
    notifications = ledger.recorder.select_notifications(start=0, limit=10_000,
                                                         inclusive_of_start=False)
    return [entry_of(ledger, n) for n in notifications]


# -- sealing ----------------------------------------------------------------------------------


def test_leaf_indexes_are_gap_free_where_positions_are_not(
    ledger: Ledger, integrity: IntegrityLog, store: Store
) -> None:
    world(ledger)
    gap = make_gap(ledger, Raw(store))
    assert integrity.seal_all() == ledger.max_position() - 1
    rows = Raw(store).run("SELECT leaf_index, position FROM {leaves} ORDER BY leaf_index")
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert gap not in [r[1] for r in rows]
    assert [r[1] for r in rows] == Raw(store).positions()
    assert integrity.leaf(gap + 1)[0] == gap - 1  # the entry after the gap: no index skipped
    with pytest.raises(NotSealed, match="no entry was stored"):
        integrity.leaf(gap)


def test_incremental_sealing_equals_sealing_from_scratch(
    ledger: Ledger, integrity: IntegrityLog, store: Store, tmp_path: Path
) -> None:
    world(ledger)
    assert integrity.seal(limit=4) == 4
    run(ledger, decision("Alfa", "2021-07-01"))
    assert integrity.seal(limit=3) == 3
    integrity.issue_checkpoint()
    run(ledger, decision("Beta", "2021-07-02"))
    assert integrity.seal(limit=3) == 3
    integrity.seal_all()
    integrity.issue_checkpoint()
    scratch = [e.leaf_hash() for e in entries_from_scratch(ledger)]
    stored = [bytes(r[0]) for r in Raw(store).run(
        "SELECT leaf_hash FROM {leaves} ORDER BY leaf_index")]
    assert stored == scratch
    assert integrity.root_at(len(scratch)) == root_from_leaf_hashes(scratch)
    # another process resumes from the tables and agrees
    run(ledger, decision("Gamma", "2021-07-03"))
    with open_log(store, ledger, tmp_path) as other:
        assert other.size == len(scratch)
        assert other.seal_all() == ledger.max_position() - len(scratch)
        assert other.root_at(other.size) == root_from_leaf_hashes(
            [e.leaf_hash() for e in entries_from_scratch(ledger)])


def test_two_sealers_at_once_seal_each_entry_once(
    ledger: Ledger, integrity: IntegrityLog, store: Store, tmp_path: Path
) -> None:
    world(ledger)
    for day in range(1, 8):
        run(ledger, decision("Alfa", f"2021-07-0{day}"))
    other = open_log(store, ledger, tmp_path)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def seal(log: IntegrityLog) -> None:
        try:
            barrier.wait(5)
            while log.seal(limit=2):
                pass
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=seal, args=(log,)) for log in (integrity, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert not errors
    rows = Raw(store).run("SELECT leaf_index, position FROM {leaves} ORDER BY leaf_index")
    assert [r[0] for r in rows] == list(range(ledger.max_position()))
    assert [r[1] for r in rows] == Raw(store).positions()


def test_recorded_at_is_the_stamped_time_in_utc(ledger: Ledger, integrity: IntegrityLog) -> None:
    world(ledger)
    entry = entries_from_scratch(ledger)[0]
    assert entry.recorded_at == "2024-01-01T12:00:00+00:00"
    assert entry.recorded_at == recorded_at_text(ledger.read(0, 1)[0].recorded_at)


# -- keys and checkpoints ---------------------------------------------------------------------


def test_checkpoints_verify_with_the_published_key(
    ledger: Ledger, integrity: IntegrityLog
) -> None:
    world(ledger)
    integrity.seal_all()
    note = integrity.issue_checkpoint()
    checkpoint = parse_and_verify_checkpoint(note, integrity.public_key)
    hashes = [e.leaf_hash() for e in entries_from_scratch(ledger)]
    assert (checkpoint.origin, checkpoint.tree_size) == (ORIGIN, len(hashes))
    assert checkpoint.root_hash == root_from_leaf_hashes(hashes)
    assert integrity.issue_checkpoint() == note  # the tree did not grow: the same one
    run(ledger, decision("Alfa", "2021-07-01"))
    integrity.seal_all()
    later = parse_and_verify_checkpoint(integrity.issue_checkpoint(), integrity.public_key)
    assert later.tree_size == ledger.max_position()
    kept = integrity.checkpoints()
    assert [c.tree_size for c in kept] == [len(hashes), later.tree_size]
    assert kept[0].note == note and kept[0].root_hash == checkpoint.root_hash
    latest = integrity.latest_checkpoint()
    assert latest is not None and latest.tree_size == later.tree_size
    assert integrity.checkpoints(after_size=len(hashes)) == kept[1:]


def test_the_key_is_made_once_beside_the_sqlite_file_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    with IntegrityLog(settings) as first:
        key = tmp_path / "ledger.sqlite3.signing-key"
        assert first.key_path == key
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert first.origin == default_origin()
    with IntegrityLog(settings) as again:
        assert again.public_key == first.public_key
    postgres = Settings(database_url="postgresql://postgres@127.0.0.1:5432/test")
    assert default_key_path(postgres) == Path("samsyn-signing.key")


# -- proofs -----------------------------------------------------------------------------------


def test_inclusion_and_consistency_proofs_verify(
    ledger: Ledger, integrity: IntegrityLog, store: Store
) -> None:
    world(ledger)
    gap = make_gap(ledger, Raw(store))
    integrity.seal(limit=5)
    small = parse_and_verify_checkpoint(integrity.issue_checkpoint(), integrity.public_key)
    integrity.seal_all()
    big = parse_and_verify_checkpoint(integrity.issue_checkpoint(), integrity.public_key)
    entries = entries_from_scratch(ledger)
    for leaf_index, entry in enumerate(entries):
        index, proof = integrity.inclusion_proof(entry.position)
        assert index == leaf_index
        assert verify_inclusion(entry.leaf_hash(), index, big.tree_size, proof, big.root_hash)
        if leaf_index < small.tree_size:
            index, proof = integrity.inclusion_proof(entry.position, small.tree_size)
            assert verify_inclusion(entry.leaf_hash(), index, small.tree_size, proof,
                                    small.root_hash)
    proof = integrity.consistency_proof(small.tree_size, big.tree_size)
    assert verify_consistency(small.tree_size, big.tree_size, small.root_hash, big.root_hash,
                              proof)
    receipt = integrity.receipt(entries[-1].position)
    assert receipt.checkpoint == big.text and receipt.root_hash == big.root_hash
    with pytest.raises(NotSealed):
        integrity.inclusion_proof(gap)
    with pytest.raises(NotSealed, match="not sealed yet"):
        integrity.inclusion_proof(ledger.max_position() + 1)
    with pytest.raises(TreeError):
        integrity.inclusion_proof(entries[-1].position, small.tree_size)
    with pytest.raises(TreeError):
        integrity.consistency_proof(small.tree_size, big.tree_size + 1)


# -- export -----------------------------------------------------------------------------------


def test_an_export_verifies_offline_and_is_the_specified_writer_output(
    ledger: Ledger, integrity: IntegrityLog, store: Store, tmp_path: Path
) -> None:
    world(ledger)
    make_gap(ledger, Raw(store))
    integrity.seal(limit=6)
    integrity.issue_checkpoint()
    integrity.seal_all()
    integrity.issue_checkpoint()
    seen: list[tuple[int, int]] = []
    summary = integrity.export(tmp_path / "export.jsonl", progress=lambda d, t: seen.append((d, t)))
    assert not summary.damaged and summary.entries == integrity.size == seen[-1][0] == seen[-1][1]
    report = verify_export(tmp_path / "export.jsonl", trusted_vkey=integrity.public_key)
    assert report.entries == integrity.size and report.checkpoints == 2
    entries = entries_from_scratch(ledger)
    expected = export_lines(entries, [c.note for c in integrity.checkpoints()],
                            integrity.public_key, ORIGIN,
                            sealed_leaf_hashes=[e.leaf_hash() for e in entries])
    assert (tmp_path / "export.jsonl").read_text("utf-8") == "".join(expected)
    with pytest.raises(FileExistsError):
        integrity.export(tmp_path / "export.jsonl")


def test_an_export_ends_at_a_checkpoint(ledger: Ledger, integrity: IntegrityLog) -> None:
    with pytest.raises(ExportRangeError, match="no checkpoint"):
        integrity.plan_export()
    world(ledger)
    integrity.seal(limit=6)
    integrity.issue_checkpoint()
    integrity.seal_all()  # sealed, not yet signed: not exported
    buffer = io.StringIO()
    summary = integrity.export(buffer)
    assert summary.tree_size == summary.entries == 6
    assert verify_export(buffer.getvalue().splitlines(keepends=True)).entries == 6
    integrity.issue_checkpoint()
    assert integrity.plan_export(to_position=10).tree_size == 6  # rounded down
    assert integrity.plan_export(to_position=10_000).tree_size == ledger.max_position()
    assert integrity.plan_export(from_position=1).tree_size == ledger.max_position()
    with pytest.raises(ExportRangeError, match="first entry"):
        integrity.plan_export(from_position=5)
    with pytest.raises(ExportRangeError):
        integrity.plan_export(to_position=3)


def test_an_empty_ledger_exports_and_verifies(integrity: IntegrityLog) -> None:
    integrity.issue_checkpoint()
    buffer = io.StringIO()
    integrity.export(buffer)
    assert verify_export([buffer.getvalue()], trusted_vkey=integrity.public_key).entries == 0


# -- the sealer -------------------------------------------------------------------------------


def test_the_sealer_follows_the_ledger_and_hands_out_receipts(
    ledger: Ledger, integrity: IntegrityLog
) -> None:
    world(ledger)
    sealer = Sealer(integrity, ledger, interval=0.05, checkpoint_every=3600)
    sealer.start()
    try:
        position = run(ledger, decision("Alfa", "2021-07-01")).positions[-1]
        sealer.notify()
        assert sealer.wait_sealed(position, timeout=10) == position - 1
        receipt = sealer.receipt(position, timeout=10)
        assert receipt.checkpoint is not None
        checkpoint = parse_and_verify_checkpoint(receipt.checkpoint, integrity.public_key)
        assert receipt.tree_size == checkpoint.tree_size >= position
        assert verify_inclusion(receipt.leaf_hash, receipt.leaf_index, receipt.tree_size,
                                list(receipt.proof), checkpoint.root_hash)
        more = run(ledger, decision("Beta", "2021-07-01")).positions[-1]
    finally:
        sealer.stop()
    latest = integrity.latest_checkpoint()
    assert latest is not None and latest.tree_size == more  # signed at stop
    assert not sealer.running and sealer.error is None


def test_a_stopped_sealer_seals_when_asked(ledger: Ledger, integrity: IntegrityLog) -> None:
    world(ledger)
    sealer = Sealer(integrity, ledger)
    assert sealer.receipt(3).leaf_index == 2
    with pytest.raises(NotSealed):
        sealer.wait_sealed(ledger.max_position() + 1, timeout=0.1)


def test_the_log_will_not_seal_on_top_of_edited_leaves(
    ledger: Ledger, integrity: IntegrityLog, store: Store, tmp_path: Path
) -> None:
    world(ledger)
    integrity.seal_all()
    integrity.issue_checkpoint()
    Raw(store).run("UPDATE {leaves} SET leaf_hash = ? WHERE leaf_index = 3", (bytes(32),))
    run(ledger, decision("Alfa", "2021-07-01"))
    with open_log(store, ledger, tmp_path) as restarted:
        with pytest.raises(LogDamaged, match="signed root"):
            restarted.seal()
        with pytest.raises(LogDamaged):
            restarted.issue_checkpoint()
        assert restarted.damage is not None


# -- the commands -----------------------------------------------------------------------------


def test_the_commands_seal_sign_prove_and_export(
    ledger: Ledger, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from api import integrity_cli

    world(ledger)
    settings = store[0].model_copy(update={"signing_key_path": tmp_path / "signing.key",
                                           "log_origin": ORIGIN})
    options = {"settings": settings, "schema": store[1]}
    parser = argparse.ArgumentParser(prog="samsyn")
    integrity_cli.add_parsers(parser.add_subparsers(dest="command", required=True))

    def samsyn(*argv: str) -> tuple[int, str]:
        args = parser.parse_args(argv)
        status = int(args.func(args, **options))
        return status, capsys.readouterr().out

    status, vkey = samsyn("public-key")
    assert status == 0 and vkey.startswith(f"{ORIGIN}+")
    status, note = samsyn("checkpoint")
    checkpoint = parse_and_verify_checkpoint(note, vkey.strip())
    assert status == 0 and checkpoint.tree_size == ledger.max_position()
    status, out = samsyn("proof", "inclusion", "3")
    proof = json.loads(out)
    assert status == 0 and verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], proof["tree_size"],
        [bytes.fromhex(h) for h in proof["proof"]], checkpoint.root_hash)
    run(ledger, decision("Alfa", "2021-07-01"))
    status, out = samsyn("export", str(tmp_path / "export.jsonl"))
    assert status == 0
    report = verify_export(tmp_path / "export.jsonl", trusted_vkey=vkey.strip())
    assert report.entries == ledger.max_position() and report.checkpoints == 2
    status, out = samsyn("proof", "consistency", str(checkpoint.tree_size), str(report.entries))
    consistency = json.loads(out)
    assert verify_consistency(checkpoint.tree_size, report.entries, checkpoint.root_hash,
                              report.root_hash, [bytes.fromhex(h) for h in consistency["proof"]])
    status, out = samsyn("verify", str(tmp_path / "export.jsonl"), "--key", vkey.strip())
    assert status == 0 and out.startswith("ok: ")
    status, out = samsyn("verify", "--live")
    assert status == 0 and out.startswith("ok: ")
    assert samsyn("export", str(tmp_path / "export.jsonl"))[0] == 2  # never overwritten
    assert samsyn("export", str(tmp_path / "from.jsonl"), "--from", "5")[0] == 1
    assert samsyn("proof", "inclusion", "9999")[0] == 1
