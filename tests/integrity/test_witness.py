"""Witnesses on loopback: each principal's witness cosigns the log's checkpoints while the log
only grows, refuses a fork, keeps its state, and a witness that is down stops nothing
(the log side on SQLite and PostgreSQL)."""

from __future__ import annotations

import argparse
import base64
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from api import integrity_cli
from ledger.application import Ledger
from ledger.integrity.checkpoint import sign_checkpoint
from ledger.integrity.cosignature import Policy, check_policy, cosigners
from ledger.integrity.keys import SigningKey, generate_signing_key, save_signing_key
from ledger.integrity.log import IntegrityLog
from ledger.integrity.merkle import MerkleAccumulator, consistency_proof, leaf_hash
from ledger.integrity.sealer import Sealer
from ledger.integrity.witness import SIZE_TYPE, Witness, WitnessServer, witness_key_of
from ledger.integrity.witnessing import WitnessEndpoint, Witnessing, attestation
from ledger.settings import Settings
from ledger.storage import persistence_env
from tests.integrity.test_log import ORIGIN, Store, open_log
from tests.ledger.world import decision, run, world


@dataclass
class Running:
    """One witness served on loopback."""

    key: SigningKey
    witness: Witness
    server: WitnessServer
    thread: threading.Thread

    @property
    def endpoint(self) -> WitnessEndpoint:
        return WitnessEndpoint(self.server.url, witness_key_of(self.key))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def serve(witness: Witness, key: SigningKey, port: int = 0) -> Running:
    server = WitnessServer(witness, "127.0.0.1", port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Running(key, witness, server, thread)


@pytest.fixture
def log_key(tmp_path: Path) -> str:
    """The log's key file, made before the log opens it; answers its vkey."""
    key = generate_signing_key(ORIGIN)
    save_signing_key(key, tmp_path / "signing.key")
    return key.vkey


@pytest.fixture
def witnesses(tmp_path: Path, log_key: str) -> Iterator[list[Running]]:
    """Three principals' witnesses on loopback, each with its own key and state file."""
    running = []
    for name in ("berg", "krokom", "ragunda"):
        key = generate_signing_key(f"witness.{name}.example/samsyn")
        witness = Witness(key, [log_key], tmp_path / f"{name}.state.sqlite3")
        running.append(serve(witness, key))
    yield running
    for r in running:
        r.stop()
        r.witness.close()


def grown(ledger: Ledger, log: IntegrityLog, *organisations: str) -> str:
    """Append a decision per organisation, seal, sign: answer the new checkpoint."""
    for n, organisation in enumerate(organisations):
        run(ledger, decision(organisation, f"2021-07-0{n + 1}"))
    log.seal_all()
    return log.issue_checkpoint()


# -- cosigning ---------------------------------------------------------------------------------


def test_each_witness_cosigns_each_new_checkpoint(
    store: Store, ledger: Ledger, tmp_path: Path, log_key: str, witnesses: list[Running]
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        witnessing = Witnessing(log, [w.endpoint for w in witnesses], quorum=2)
        grown(ledger, log)
        assert sorted(witnessing.cosign_latest()) == sorted(w.key.name for w in witnesses)
        first = log.latest_checkpoint()
        grown(ledger, log, "Alfa", "Beta")  # the second time: with consistency proofs
        assert len(witnessing.cosign_latest()) == 3
        latest = log.latest_checkpoint()
        assert latest.tree_size > first.tree_size
        result = check_policy(latest.note, witnessing.policy)
        assert result.met and len(result.signed) == 3
        for w in witnesses:
            assert w.witness.latest(ORIGIN) == (latest.tree_size, latest.root_hash)
        found = attestation(log, witnessing.policy)
        assert (found.attested_tree_size, len(found.latest_cosigned_by)) == (latest.tree_size, 3)


def test_a_witness_keeps_its_state_across_restarts(
    tmp_path: Path, log_key: str, witnesses: list[Running], store: Store, ledger: Ledger
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        Witnessing(log, [witnesses[0].endpoint]).cosign_latest()
        grown(ledger, log)
        Witnessing(log, [witnesses[0].endpoint]).cosign_latest()
        size = log.size
    witnesses[0].witness.close()
    reopened = Witness(witnesses[0].key, [log_key], tmp_path / "berg.state.sqlite3")
    try:
        assert reopened.latest(ORIGIN)[0] == size
        answer = reopened.add_checkpoint(b"old 0\n\n" + log_note(store, ledger, tmp_path))
        assert (answer.status, answer.content_type, answer.body) == (409, SIZE_TYPE, f"{size}\n")
    finally:
        reopened.close()


def log_note(store: Store, ledger: Ledger, tmp_path: Path) -> bytes:
    with open_log(store, ledger, tmp_path) as log:
        return log.latest_checkpoint().note.encode()


# -- forks -------------------------------------------------------------------------------------


def tree(leaves: list[bytes]) -> tuple[MerkleAccumulator, list[bytes]]:
    hashes = [leaf_hash(b) for b in leaves]
    acc = MerkleAccumulator()
    for h in hashes:
        acc.append(h)
    return acc, hashes


def request(old: int, proof: list[bytes], note: str) -> bytes:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{note}".encode()


def test_a_fork_presented_to_a_witness_is_refused(tmp_path: Path) -> None:
    key = generate_signing_key(ORIGIN)
    witness_key = generate_signing_key("witness.berg.example/samsyn")
    witness = Witness(witness_key, [key.vkey], tmp_path / "state.sqlite3")
    honest = [b"entry %d" % i for i in range(10)]
    forked = honest[:5] + [b"rewritten %d" % i for i in range(5, 12)]
    a, _ = tree(honest[:7])
    b, b_hashes = tree(forked)
    note_a = sign_checkpoint(key, ORIGIN, 7, a.root())
    assert witness.add_checkpoint(request(0, [], note_a)).status == 200
    # the same size with another root: refused, nothing recorded
    note_b7 = sign_checkpoint(key, ORIGIN, 7, tree(forked[:7])[0].root())
    answer = witness.add_checkpoint(request(7, [], note_b7))
    assert answer.status == 409 and "fork" in answer.body
    # a larger tree that does not extend what it saw: its own proof does not verify
    note_b = sign_checkpoint(key, ORIGIN, 12, b.root())
    answer = witness.add_checkpoint(request(7, consistency_proof(b_hashes, 7, 12), note_b))
    assert answer.status == 422 and "does not extend" in answer.body
    # a stale old size: 409 with the size it knows, as tlog-witness says
    answer = witness.add_checkpoint(request(3, [], note_b))
    assert (answer.status, answer.content_type, answer.body) == (409, SIZE_TYPE, "7\n")
    assert witness.latest(ORIGIN) == (7, a.root())
    # the honest extension is cosigned
    full, full_hashes = tree(honest)
    note = sign_checkpoint(key, ORIGIN, 10, full.root())
    answer = witness.add_checkpoint(request(7, consistency_proof(full_hashes, 7, 10), note))
    assert answer.status == 200
    assert cosigners(note + answer.body, [witness_key_of(witness_key)])
    # other logs and forged signatures
    stranger = generate_signing_key("other.example/log")
    assert witness.add_checkpoint(request(0, [], sign_checkpoint(
        stranger, "other.example/log", 1, a.root()))).status == 404
    impostor = generate_signing_key(ORIGIN)
    assert witness.add_checkpoint(request(0, [], sign_checkpoint(
        impostor, ORIGIN, 1, a.root()))).status == 403
    assert witness.add_checkpoint(b"old x\n\n" + note.encode()).status == 400
    witness.close()


def test_a_forked_copy_of_the_log_gets_no_cosignature(
    store: Store, ledger: Ledger, make_ledger: Callable[..., Ledger], clock: Callable[[], datetime],
    tmp_path: Path, witnesses: list[Running],
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        grown(ledger, log, "Alfa")
        assert len(Witnessing(log, [w.endpoint for w in witnesses]).cosign_latest()) == 3
    # the operator runs a second copy with the same key and shows it another history
    copy = Settings(database_url=f"sqlite:///{tmp_path / 'fork.sqlite3'}")
    other = Ledger(env=persistence_env(copy), clock=clock)
    try:
        world(other)
        with IntegrityLog(copy, key_path=tmp_path / "signing.key", origin=ORIGIN,
                          ledger=other) as fork:
            grown(other, fork, "Beta", "Alfa", "Beta")
            refused = Witnessing(fork, [w.endpoint for w in witnesses]).cosign_latest()
            assert refused == []
            assert cosigners(fork.latest_checkpoint().note,
                             [w.endpoint.key for w in witnesses]) == []
    finally:
        other.close()


# -- a witness that is down ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_witness_that_is_down_stops_neither_appends_nor_sealing_and_is_asked_again(
    store: Store, ledger: Ledger, tmp_path: Path, log_key: str, witnesses: list[Running]
) -> None:
    world(ledger)
    port = free_port()
    down_key = generate_signing_key("witness.bracke.example/samsyn")
    down = WitnessEndpoint(f"http://127.0.0.1:{port}", witness_key_of(down_key))
    endpoints = [w.endpoint for w in witnesses[:2]] + [down]
    with open_log(store, ledger, tmp_path) as log:
        witnessing = Witnessing(log, endpoints, quorum=3, timeout=0.5, retry_every=0.0)
        sealer = Sealer(log, ledger, interval=0.05, checkpoint_every=0.05, witnessing=witnessing)
        sealer.start()
        try:
            receipts = [run(ledger, decision("Alfa", f"2021-07-0{d}")) for d in range(1, 4)]
            receipt = sealer.receipt(receipts[-1].positions[-1], timeout=30)
            assert receipt.tree_size == ledger.max_position()
            policy = witnessing.policy
            deadline = time.monotonic() + 30
            while len(check_policy(log.latest_checkpoint().note, policy).signed) < 2:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            result = check_policy(log.latest_checkpoint().note, policy)
            assert not result.met and result.missing == (down_key.name,)
            # the principal starts its witness: the next checkpoint is cosigned by all three
            back = serve(Witness(down_key, [log_key], tmp_path / "bracke.sqlite3"), down_key,
                         port)
            try:
                head = run(ledger, decision("Beta", "2021-08-01")).positions[-1]
                deadline = time.monotonic() + 30
                while not (log.sealed_position == head
                           and log.latest_checkpoint().tree_size == log.size
                           and check_policy(log.latest_checkpoint().note, policy).met):
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            finally:
                back.stop()
                back.witness.close()
        finally:
            sealer.stop()


# -- the verifier's policy -----------------------------------------------------------------------


def test_samsyn_verify_reports_a_checkpoint_below_the_policy(
    store: Store, ledger: Ledger, tmp_path: Path, log_key: str, witnesses: list[Running],
    capsys: pytest.CaptureFixture[str],
) -> None:
    world(ledger)
    with open_log(store, ledger, tmp_path) as log:
        grown(ledger, log)
        Witnessing(log, [w.endpoint for w in witnesses[:2]]).cosign_latest()
        path = tmp_path / "export.jsonl"
        log.export(path)
    keys = [w.endpoint.key.vkey for w in witnesses]

    def verify(quorum: int) -> int:
        return integrity_cli.verify(argparse.Namespace(
            file=str(path), live=False, trusted_checkpoint=None, key=log_key, workers=0,
            consistency_proof=None, witness=keys, quorum=quorum))

    assert verify(2) == 0
    assert "cosigned by 2 of 3 witnesses" in capsys.readouterr().out
    assert verify(3) == 1
    err = capsys.readouterr().err
    assert "is BELOW the policy of at least 3" in err
    assert witnesses[2].key.name not in err.split("(")[1].split(")")[0]
    assert Policy.parse(keys, None).quorum == 3


# -- samsyn witness, a process of its own ---------------------------------------------------------


def test_samsyn_witness_runs_as_its_own_process(
    store: Store, ledger: Ledger, tmp_path: Path, log_key: str
) -> None:
    world(ledger)
    port = free_port()
    samsyn = Path(sys.executable).with_name("samsyn")
    command = [str(samsyn), "witness", "--key", str(tmp_path / "w.key"), "--name",
               "witness.are.example/samsyn", "--log", log_key, "--port", str(port)]
    printed = subprocess.run([*command, "--print-key"], capture_output=True, text=True,
                             check=True, timeout=60)
    endpoint = WitnessEndpoint.parse(f"http://127.0.0.1:{port} {printed.stdout.strip()}")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "SAMSYN_LOG_FORMAT": "json"})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint.url, timeout=1).read()
                break
            except (urllib.error.URLError, OSError):
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        with open_log(store, ledger, tmp_path) as log:
            grown(ledger, log)
            assert Witnessing(log, [endpoint]).cosign_latest() == ["witness.are.example/samsyn"]
    finally:
        process.terminate()
        assert process.wait(30) == 0
