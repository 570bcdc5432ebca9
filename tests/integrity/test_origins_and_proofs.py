"""Log origins beyond ASCII, and an older export proven a prefix of a newer trusted
checkpoint with ``samsyn verify --consistency-proof`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from api import cli, integrity_cli
from ledger.application import Ledger
from ledger.integrity.checkpoint import parse_and_verify_checkpoint
from ledger.integrity.log import IntegrityLog
from ledger.integrity.verify import verify_export
from ledger.settings import get_settings
from tests.integrity.test_log import ORIGIN, Store, open_log
from tests.ledger.world import decision, run, world


def test_a_log_named_beyond_ascii_signs_exports_and_verifies(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    origin = "samsyn.jämtland.example/liggare-östersund"
    world(ledger)
    settings, schema = store
    with IntegrityLog(settings, schema, key_path=tmp_path / "k.key", origin=origin,
                      ledger=ledger) as log:
        log.seal_all()
        note = log.issue_checkpoint()
        assert parse_and_verify_checkpoint(note, log.public_key).origin == origin
        path = tmp_path / "export.jsonl"
        log.export(path)
    assert verify_export(path, trusted_vkey=log.public_key).origin == origin
    with IntegrityLog(settings, schema, key_path=tmp_path / "k.key", ledger=ledger) as again:
        assert again.origin == origin  # read back from the UTF-8 key file


def test_an_origin_the_signed_note_spec_forbids_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Refused before any storage is touched by the log, so one backend tells it all."""
    monkeypatch.setenv("SAMSYN_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    monkeypatch.setenv("SAMSYN_SIGNING_KEY_PATH", str(tmp_path / "k.key"))
    monkeypatch.setenv("SAMSYN_LOG_ORIGIN", "region jämtland")
    get_settings.cache_clear()
    try:
        assert cli.main(["checkpoint"]) == 1
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid key name 'region jämtland'" in err


def test_an_older_export_is_proven_a_prefix_of_a_newer_trusted_checkpoint(
    store: Store, ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        log.seal_all()
        old_size = log.size
        log.issue_checkpoint()
        export = tmp_path / "old.jsonl"
        log.export(export)
        run(ledger, decision("Alfa", "2021-07-01"))
        log.seal_all()
        trusted = tmp_path / "trusted.txt"
        trusted.write_text(log.issue_checkpoint(), encoding="utf-8")
        new_size = log.size
    settings = store[0].model_copy(update={"signing_key_path": tmp_path / "signing.key",
                                           "log_origin": ORIGIN})
    assert integrity_cli.proof(argparse.Namespace(kind="consistency", first=old_size,
                                                  second=new_size),
                               settings=settings, schema=store[1]) == 0
    proof = tmp_path / "proof.json"
    proof.write_text(capsys.readouterr().out, encoding="utf-8")
    assert json.loads(proof.read_text())["first"] == old_size

    def verify(consistency_proof: str | None) -> int:
        return integrity_cli.verify(argparse.Namespace(
            file=str(export), live=False, trusted_checkpoint=str(trusted), key=None,
            workers=0, consistency_proof=consistency_proof, witness=[], quorum=None))

    assert verify(None) == 1
    assert "supply a consistency proof" in capsys.readouterr().err
    assert verify(str(proof)) == 0
    assert "the trusted checkpoint is prefix-proven" in capsys.readouterr().out
