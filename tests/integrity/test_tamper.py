"""Tampering is found, and the first bad entry named: in the store itself (``verify --live``)
and in an export (the offline verifier), on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import integrity_cli
from ledger.application import Ledger
from ledger.integrity.checkpoint import sign_checkpoint
from ledger.integrity.errors import ExportVerificationError, FindingKind
from ledger.integrity.keys import generate_signing_key
from ledger.integrity.log import IntegrityLog, LiveReport
from ledger.integrity.verify import verify_export
from ledger.settings import Settings
from tests.integrity.test_log import ORIGIN, Raw, Store, open_log
from tests.ledger.world import decision, run, world


@pytest.fixture
def integrity(store: Store, ledger: Ledger, tmp_path: Path) -> Iterator[IntegrityLog]:
    """A sealed ledger of about 20 entries with checkpoints at 6 and at the end."""
    world(ledger)
    for organisation in ("Alfa", "Beta"):
        run(ledger, decision(organisation, "2021-07-01"))
    log = open_log(store, ledger, tmp_path)
    log.seal(limit=6)
    log.issue_checkpoint()
    log.seal_all()
    log.issue_checkpoint()
    yield log
    log.close()


def live(integrity: IntegrityLog) -> LiveReport:
    return integrity.verify_live()


def export_of(integrity: IntegrityLog, tmp_path: Path) -> Path:
    path = tmp_path / "export.jsonl"
    integrity.export(path)
    return path


def offline_finding(path: Path, integrity: IntegrityLog) -> ExportVerificationError:
    with pytest.raises(ExportVerificationError) as caught:
        verify_export(path, trusted_vkey=integrity.public_key)
    return caught.value


def cli_settings(store: Store, tmp_path: Path) -> Settings:
    return store[0].model_copy(update={"signing_key_path": tmp_path / "signing.key",
                                       "log_origin": ORIGIN})


def verify_args(**given: object) -> argparse.Namespace:
    args = {"file": None, "trusted_checkpoint": None, "key": None, "workers": None,
            "live": False}
    args.update(given)
    return argparse.Namespace(**args)


def test_an_intact_store_passes(integrity: IntegrityLog, ledger: Ledger) -> None:
    run(ledger, decision("Gamma", "2021-07-01"))  # appended since: not sealed, not a problem
    report = live(integrity)
    assert report.ok, report.describe()
    assert report.checkpoints == 2 and report.unsealed_rows > 0
    assert report.leaves == integrity.size and report.rows == report.leaves + report.unsealed_rows


# -- the store, checked live ------------------------------------------------------------------


@pytest.mark.parametrize("decodable", [True, False], ids=["still-decodes", "breaks-json"])
def test_one_changed_byte_in_a_payload_is_named(
    integrity: IntegrityLog, store: Store, tmp_path: Path, decodable: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = Raw(store)
    state = bytearray(raw.state(5))  # "Beta org" registered
    at = state.index(b'"name":"') + len(b'"name":"') if decodable else 0
    state[at] ^= 0x01 if decodable else ord("{") ^ ord("[")
    raw.set_state(5, bytes(state))

    report = live(integrity)
    assert report.first is not None
    assert (report.first.kind, report.first.position, report.first.leaf_index) == ("altered", 5, 4)
    assert [p.position for p in report.problems if p.kind == "altered"] == [5]

    status = integrity_cli.verify(verify_args(live=True),
                                  settings=cli_settings(store, tmp_path), schema=store[1])
    assert status == 1
    first_line = capsys.readouterr().err.splitlines()[0]
    assert "altered (leaf index 4, position 5)" in first_line

    # an export carries the row as stored, and the offline verifier names it too; a row
    # that no longer decodes cannot be written as an entry, so it is missing from the export
    finding = offline_finding(export_of(integrity, tmp_path), integrity).finding
    if decodable:
        assert (finding.kind, finding.leaf_index, finding.position) == (FindingKind.ALTERED, 4, 5)
        assert finding.line_number == 6  # the header, leaves 0-3, then leaf 4
    else:
        assert (finding.kind, finding.leaf_index) == (FindingKind.MISSING, 4)


def test_a_deleted_row_is_named(integrity: IntegrityLog, store: Store, tmp_path: Path) -> None:
    Raw(store).delete(9)
    report = live(integrity)
    assert report.first is not None
    assert (report.first.kind, report.first.position, report.first.leaf_index) == ("missing", 9, 8)

    finding = offline_finding(export_of(integrity, tmp_path), integrity).finding
    assert (finding.kind, finding.leaf_index) == (FindingKind.MISSING, 8)
    assert finding.confirmed_size == 6


def test_two_swapped_rows_are_named_at_the_first(integrity: IntegrityLog, store: Store,
                                                 tmp_path: Path) -> None:
    raw = Raw(store)
    third, eleventh = raw.state(3), raw.state(11)
    raw.set_state(3, eleventh)
    raw.set_state(11, third)
    report = live(integrity)
    altered = [(p.kind, p.position) for p in report.problems if p.position is not None]
    assert altered == [("altered", 3), ("altered", 11)]
    assert report.first is not None and report.first.position == 3
    assert any(p.kind == "root-mismatch" for p in report.problems)

    finding = offline_finding(export_of(integrity, tmp_path), integrity).finding
    assert (finding.kind, finding.position) == (FindingKind.ALTERED, 3)


def test_a_row_slipped_into_a_gap_is_named(integrity: IntegrityLog, store: Store) -> None:
    raw = Raw(store)
    if raw.postgres:
        raw.run("UPDATE {events} SET notification_id = 100 WHERE notification_id = 12")
    else:
        raw.run("UPDATE {events} SET rowid = 100 WHERE rowid = 12")
    report = live(integrity)
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("missing", 12)
    assert report.unsealed_rows == 1  # now at 100, after everything sealed


def test_an_edited_leaf_is_told_from_an_edited_row(integrity: IntegrityLog, store: Store) -> None:
    Raw(store).run("UPDATE {leaves} SET leaf_hash = ? WHERE leaf_index = 2", (bytes(32),))
    report = live(integrity)
    assert report.first is not None
    assert (report.first.kind, report.first.position) == ("leaf-altered", 3)
    assert [p.kind for p in report.problems] == ["leaf-altered", "root-mismatch"]
    assert "leaf table" in report.problems[1].detail


def test_a_forged_checkpoint_in_the_store_is_found(integrity: IntegrityLog, store: Store) -> None:
    raw = Raw(store)
    note = str(raw.run("SELECT note FROM {checkpoints} WHERE tree_size = 6")[0][0])
    forged = note.replace("\n6\n", "\n5\n", 1)  # claims a smaller tree, signature kept
    raw.run("UPDATE {checkpoints} SET note = ? WHERE tree_size = 6", (forged,))
    report = live(integrity)
    assert report.first is not None and report.first.kind == "bad-signature"
    assert "size 6" in report.first.detail


# -- exports, checked offline -----------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text("utf-8").splitlines(keepends=True)


def test_a_forged_checkpoint_signature_in_an_export_is_found(
    integrity: IntegrityLog, store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export_of(integrity, tmp_path)
    lines = _lines(path)
    last = json.loads(lines[-1])
    body, _, signature_line = last["note"].rstrip("\n").rpartition("\n")
    dash_name, _, signature = signature_line.rpartition(" ")
    raw_signature = bytearray(base64.b64decode(signature))
    raw_signature[10] ^= 0x80
    last["note"] = f"{body}\n{dash_name} {base64.b64encode(raw_signature).decode()}\n"
    lines[-1] = json.dumps(last, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), "utf-8")

    finding = offline_finding(path, integrity).finding
    assert finding.kind == FindingKind.BAD_SIGNATURE
    assert finding.line_number == len(lines) and finding.confirmed_size == 6

    status = integrity_cli.verify(verify_args(file=str(path), key=integrity.public_key))
    err = capsys.readouterr().err
    assert status == 1 and len(err.splitlines()) == 1
    assert f"bad-signature (line {len(lines)})" in err and "first 6 entries proven" in err


def test_a_checkpoint_forged_with_another_key_fails_against_the_pinned_key(
    integrity: IntegrityLog, ledger: Ledger, tmp_path: Path
) -> None:
    path = export_of(integrity, tmp_path)
    lines = _lines(path)
    forger = generate_signing_key(ORIGIN)
    header = json.loads(lines[0])
    header["public_key"] = forger.vkey
    lines[0] = json.dumps(header) + "\n"
    for i, line in enumerate(lines):
        if '"kind":"checkpoint"' in line:
            size = int(json.loads(line)["note"].split("\n")[1])
            note = sign_checkpoint(forger, ORIGIN, size, integrity.root_at(size))
            lines[i] = json.dumps({"kind": "checkpoint", "note": note}) + "\n"
    path.write_text("".join(lines), "utf-8")
    verify_export(path)  # self-consistent under the key it brings along ...
    finding = offline_finding(path, integrity).finding  # ... but not the pinned one
    assert finding.kind == FindingKind.KEY_MISMATCH


@pytest.mark.parametrize("cut", ["mid-line", "last-checkpoint", "tail"])
def test_a_truncated_export_is_found(
    integrity: IntegrityLog, tmp_path: Path, cut: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export_of(integrity, tmp_path)
    data = path.read_bytes()
    lines = _lines(path)
    if cut == "mid-line":
        path.write_bytes(data[: len(data) - len(lines[-1].encode()) - 40])
    elif cut == "last-checkpoint":
        path.write_text("".join(lines[:-1]), "utf-8")
    else:  # everything after the first checkpoint gone: a valid older export ...
        first_checkpoint = next(i for i, line in enumerate(lines) if '"checkpoint"' in line)
        path.write_text("".join(lines[: first_checkpoint + 1]), "utf-8")

    if cut == "tail":
        assert verify_export(path, trusted_vkey=integrity.public_key).entries < integrity.size
        # ... which only the checkpoint an auditor kept shows to be cut
        latest = integrity.latest_checkpoint()
        assert latest is not None
        kept = tmp_path / "kept-checkpoint.txt"
        kept.write_text(latest.note, "utf-8")
        with pytest.raises(ExportVerificationError) as caught:
            verify_export(path, trusted_vkey=integrity.public_key, trusted_checkpoint=latest.note)
        assert caught.value.finding.kind == FindingKind.TRUSTED_MISMATCH
        status = integrity_cli.verify(verify_args(
            file=str(path), key=integrity.public_key, trusted_checkpoint=str(kept)))
        assert status == 1 and "trusted-mismatch" in capsys.readouterr().err
        return
    finding = offline_finding(path, integrity).finding
    assert finding.kind == FindingKind.UNSEALED
    assert finding.confirmed_size == 6  # leaves 0-5 are signed for; leaf 6 on are not
    if cut == "last-checkpoint":
        assert (finding.leaf_index, finding.position) == (6, 7)
    else:  # the verifier names the cut line, and the CLI the first entry not proven
        assert finding.line_number == len(lines) - 1
    status = integrity_cli.verify(verify_args(file=str(path), key=integrity.public_key))
    err = capsys.readouterr().err
    assert status == 1 and len(err.splitlines()) == 1
    assert ("unsealed (leaf index 6, position 7)" in err
            or "entries from leaf index 6 on are not proven" in err)
