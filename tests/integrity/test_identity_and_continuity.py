"""The log signs with one key, changes it only by a recorded rotation, and stops when the
ledger's history moves backwards (both backends)."""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from api import integrity_cli
from api.problems import status_of
from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_and_verify_checkpoint, parse_vkey
from ledger.integrity.errors import (
    ExportVerificationError,
    FindingKind,
    HistoryRegressed,
    KeyIdentityError,
)
from ledger.integrity.keys import generate_signing_key, load_signing_key, save_signing_key
from ledger.integrity.log import APPENDED, KEYS, IntegrityLog, LogDamaged
from ledger.integrity.rotation import parse_rotation, rotation_statement
from ledger.integrity.verify import verify_export
from tests.integrity.test_log import ORIGIN, Raw, Store, open_log
from tests.ledger.world import decision, run, world


@pytest.fixture
def signed(store: Store, ledger: Ledger, tmp_path: Path) -> IntegrityLog:
    """A log that has sealed the world and signed a checkpoint (closed: reopen it)."""
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        log.seal_all()
        log.issue_checkpoint()
        return log


def forget_keys(store: Store) -> None:
    schema = store[1]
    Raw(store).run(f'DELETE FROM "{schema}".{KEYS}' if schema else f"DELETE FROM {KEYS}")


def export_text(log: IntegrityLog) -> str:
    out = io.StringIO()
    log.export(out)
    return out.getvalue()


# -- one key --------------------------------------------------------------------------------


def test_a_log_with_checkpoints_refuses_to_start_without_its_key_file(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    (tmp_path / "signing.key").unlink()
    with pytest.raises(KeyIdentityError, match="is missing"):
        open_log(store, ledger, tmp_path)
    assert not (tmp_path / "signing.key").exists()  # no new key was made


def test_a_log_refuses_to_start_with_another_key(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    (tmp_path / "signing.key").unlink()
    save_signing_key(generate_signing_key(ORIGIN), tmp_path / "signing.key")
    with pytest.raises(KeyIdentityError, match="but this log signs with"):
        open_log(store, ledger, tmp_path)


def test_a_log_from_before_keys_were_recorded_adopts_the_key_of_its_checkpoints(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    forget_keys(store)  # as a log sealed before the keys table existed
    with open_log(store, ledger, tmp_path) as log:
        assert log.signing_keys() == [(-1, signed.vkey, "")]
    (tmp_path / "signing.key").unlink()
    save_signing_key(generate_signing_key(ORIGIN), tmp_path / "signing.key")
    forget_keys(store)
    with pytest.raises(KeyIdentityError, match="is not signed by it"):
        open_log(store, ledger, tmp_path)


# -- rotation -------------------------------------------------------------------------------


def test_a_rotation_hands_over_to_the_new_key_and_the_verifier_follows_it(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    new = generate_signing_key(ORIGIN)
    with open_log(store, ledger, tmp_path) as log:
        old_vkey = log.vkey
        statement = log.rotate_key(new)
        run(ledger, decision("Alfa", "2021-07-01"))
        log.seal_all()
        note = log.issue_checkpoint()
        parse_and_verify_checkpoint(note, new.vkey)
        text = export_text(log)
    rotation = parse_rotation(statement, parse_vkey(old_vkey))
    assert rotation.new == new.verifier
    assert '"kind":"key-rotation"' in text
    report = verify_export([text], trusted_vkey=old_vkey)
    assert report.public_key == new.vkey
    assert [r.new.vkey for r in report.rotations] == [new.vkey]
    assert report.checkpoints == 2
    # an auditor who pinned the new key: the old one is vouched for by the rotation it signed
    assert verify_export([text], trusted_vkey=new.vkey).public_key == new.vkey
    with pytest.raises(ExportVerificationError) as caught:
        verify_export([text], trusted_vkey=generate_signing_key(ORIGIN).vkey)
    assert caught.value.finding.kind is FindingKind.KEY_MISMATCH
    # the old key file no longer opens the log; the new one does
    with pytest.raises(KeyIdentityError):
        open_log(store, ledger, tmp_path)
    (tmp_path / "signing.key").unlink()
    save_signing_key(new, tmp_path / "signing.key")
    with open_log(store, ledger, tmp_path) as log:
        assert log.vkey == new.vkey
        assert log.vkey_at(1) == old_vkey


def test_a_process_still_holding_the_old_key_cannot_sign_after_a_rotation(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    with open_log(store, ledger, tmp_path) as stale, open_log(store, ledger, tmp_path) as log:
        log.rotate_key(generate_signing_key(ORIGIN))
        run(ledger, decision("Alfa", "2021-07-01"))
        stale.seal_all()
        with pytest.raises(KeyIdentityError, match="restart with the log's key"):
            stale.issue_checkpoint()


def test_a_rotation_not_signed_by_the_key_in_force_is_refused_by_the_verifier(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog
) -> None:
    new = generate_signing_key(ORIGIN)
    with open_log(store, ledger, tmp_path) as log:
        size = log.size
        statement = log.rotate_key(new)
        run(ledger, decision("Alfa", "2021-07-01"))
        log.seal_all()
        log.issue_checkpoint()
        text = export_text(log)
    thief = generate_signing_key(ORIGIN)
    forged = rotation_statement(thief, new, ORIGIN, size)
    tampered = text.replace(
        statement.replace("\n", "\\n"), forged.replace("\n", "\\n")
    )
    assert tampered != text
    with pytest.raises(ExportVerificationError) as caught:
        verify_export([tampered])
    assert caught.value.finding.kind is FindingKind.BAD_ROTATION
    without = "".join(line for line in text.splitlines(keepends=True)
                      if "key-rotation" not in line)
    with pytest.raises(ExportVerificationError) as caught:
        verify_export([without])
    assert caught.value.finding.kind is FindingKind.BAD_SIGNATURE


# -- history that moves backwards -------------------------------------------------------------


def test_a_restored_older_backup_stops_writing_and_sealing(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        log.guard(ledger, every=0.0)
        log.seal_all()
        log.issue_checkpoint()
        raw = Raw(store)
        head = raw.positions()[-1]
        raw.delete(head)  # the restored backup ends one entry earlier
        with pytest.raises(HistoryRegressed, match="head moved backwards") as caught:
            run(ledger, decision("Alfa", "2021-07-01"))
        assert status_of(caught.value) == 503
        with pytest.raises(HistoryRegressed):
            log.seal()
        assert log.regressed is not None
        assert raw.positions()[-1] == head - 1  # nothing was written


def test_positions_handed_out_again_are_detected(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    world(ledger)
    raw = Raw(store)
    with open_log(store, ledger, tmp_path) as log:
        log.seal_all()
        head = raw.positions()[-1]
        raw.delete(head)
        if raw.postgres:  # a restored backup restores the sequence too
            sequence = f'"{store[1]}".samsyn_events_notification_id_seq'
            raw.run(f"SELECT setval('{sequence}', {head - 1})")
        receipt = run(ledger, decision("Alfa", "2021-07-01"))
        assert head in receipt.positions
        with pytest.raises(HistoryRegressed, match="handed out again"):
            log.seal()


def test_samsyn_key_rotate_records_the_rotation_and_replaces_the_key_file(
    store: Store, ledger: Ledger, tmp_path: Path, signed: IntegrityLog,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings, schema = store
    settings = settings.model_copy(
        update={"signing_key_path": tmp_path / "signing.key", "log_origin": ORIGIN})
    old = load_signing_key(tmp_path / "signing.key")
    assert integrity_cli.key_rotate(argparse.Namespace(), settings=settings, schema=schema) == 0
    new = load_signing_key(tmp_path / "signing.key")
    assert new.vkey != old.vkey
    retired = tmp_path / f"signing.key.retired-{old.verifier.key_id.hex()}"
    assert load_signing_key(retired).vkey == old.vkey
    assert parse_rotation(capsys.readouterr().out, old.verifier).new == new.verifier
    with open_log(store, ledger, tmp_path) as log:
        assert [vkey for _, vkey, _ in log.signing_keys()] == [old.vkey, new.vkey]


# -- every append is sealed as appended ---------------------------------------------------------


def test_a_row_edited_between_its_append_and_its_sealing_is_never_signed(
    store: Store, make_ledger: Callable[..., Ledger], ledger: Ledger, tmp_path: Path
) -> None:
    world(ledger)
    raw = Raw(store)
    with open_log(store, ledger, tmp_path) as log:
        log.seal_all()
        log.guard_appends()
        other = make_ledger()  # another process appending, e.g. 'samsyn import'
        receipt = run(other, decision("Alfa", "2021-07-01"))
        position = receipt.positions[0]
        state = raw.state(position)
        raw.set_state(position, state.replace(b"2021-07-01", b"2021-07-02"))
        with pytest.raises(LogDamaged, match=f"position {position} was changed after it was "
                                             "appended"):
            log.seal()
        assert log.size == ledger.max_position() - len(receipt.positions)


def test_rows_appended_while_guarded_are_sealed_and_their_records_dropped(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        since = log.guard_appends()
        run(ledger, decision("Alfa", "2021-07-01"))
        assert log.seal_all() == ledger.max_position()
        assert since < ledger.max_position()
        assert Raw(store).run(
            f'SELECT COUNT(*) FROM "{store[1]}".{APPENDED}' if store[1]
            else f"SELECT COUNT(*) FROM {APPENDED}"
        ) == [(0,)]
