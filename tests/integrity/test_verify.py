"""The offline verifier: honest exports pass; every alteration is caught and its place named."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.integrity import verify
from ledger.integrity.canonical import LedgerEntry, leaf_hash_encoded
from ledger.integrity.checkpoint import sign_checkpoint
from ledger.integrity.errors import (
    EncodingError,
    ExportVerificationError,
    ExportWriteError,
    Finding,
    FindingKind,
)
from ledger.integrity.keys import SigningKey, generate_signing_key
from ledger.integrity.merkle import (
    MerkleAccumulator,
    consistency_proof,
    root_from_leaf_hashes,
)
from ledger.integrity.verify import (
    VerificationReport,
    export_lines,
    verify_export,
    write_export,
)

ORIGIN = "samsyn.example/ledger"
ENTRIES = 1000
CHECKPOINT_EVERY = 100


def synthetic_entries(count: int, seed: int = 7) -> list[LedgerEntry]:
    """Entries like the ledger's: gapped positions, several aggregates, JSON payloads."""
    rng = random.Random(seed)
    aggregates = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(40)]
    versions = dict.fromkeys(aggregates, 0)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    position = 0
    entries = []
    for i in range(count):
        position += rng.choice((1, 1, 1, 2))  # notification ids may skip numbers
        aggregate = rng.choice(aggregates)
        versions[aggregate] += 1
        payload = {"n": i, "title": f"Beslut {i} — väg", "body": "x" * rng.randint(200, 500)}
        entries.append(
            LedgerEntry(
                position=position,
                originator_id=aggregate,
                originator_version=versions[aggregate],
                topic="ledger.domain.decision:Decision.Adopted",
                state=json.dumps(payload, ensure_ascii=False).encode(),
                recorded_at=(start + timedelta(seconds=i, microseconds=i)).isoformat(),
            )
        )
    return entries


def checkpoints_for(
    key: SigningKey, entries: list[LedgerEntry], every: int = CHECKPOINT_EVERY
) -> list[str]:
    acc = MerkleAccumulator()
    notes = []
    for i, entry in enumerate(entries, start=1):
        acc.append(entry.leaf_hash())
        if i % every == 0 or i == len(entries):
            moment = datetime(2025, 1, 2, tzinfo=UTC) + timedelta(minutes=i)
            notes.append(sign_checkpoint(key, ORIGIN, i, acc.root(), timestamp=moment))
    return notes


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return generate_signing_key(ORIGIN)


@pytest.fixture(scope="module")
def entries() -> list[LedgerEntry]:
    return synthetic_entries(ENTRIES)


@pytest.fixture(scope="module")
def honest(key: SigningKey, entries: list[LedgerEntry]) -> list[str]:
    """The export lines of an honest log of 1,000 entries, a checkpoint every 100."""
    return list(export_lines(entries, checkpoints_for(key, entries), key.vkey, ORIGIN))


def index_of_entry(lines: list[str], leaf_index: int) -> int:
    for i, line in enumerate(lines):
        obj = json.loads(line)
        if obj.get("kind") == "entry" and obj["leaf_index"] == leaf_index:
            return i
    raise LookupError(leaf_index)


def edit_entry(lines: list[str], leaf_index: int, change: Callable[[dict[str, Any]], None]) -> None:
    i = index_of_entry(lines, leaf_index)
    obj = json.loads(lines[i])
    change(obj)
    lines[i] = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def flip_payload_byte(obj: dict[str, Any]) -> None:
    state = bytearray(base64.b64decode(obj["entry"]["state_b64"]))
    state[17] ^= 0x01
    obj["entry"]["state_b64"] = base64.b64encode(bytes(state)).decode()


def forge_leaf_hash(obj: dict[str, Any]) -> None:
    """Make the line's sealed hash that of its (changed) content, as a forger would."""
    leaf = obj["entry"]
    obj["leaf_hash"] = leaf_hash_encoded(
        leaf["position"],
        leaf["originator_id"].encode(),
        leaf["originator_version"],
        leaf["topic"].encode(),
        leaf["state_b64"].encode(),
        leaf["recorded_at"].encode(),
    ).hex()


def finding_of(lines: list[str], **options: Any) -> Finding:
    with pytest.raises(ExportVerificationError) as caught:
        verify_export(lines, **options)
    return caught.value.finding


# -- the honest case --------------------------------------------------------------------------


def test_an_honest_export_of_a_thousand_entries_verifies(
    honest: list[str], key: SigningKey, entries: list[LedgerEntry]
) -> None:
    report = verify_export(honest, trusted_vkey=key.vkey)
    assert report.entries == ENTRIES
    assert report.checkpoints == ENTRIES // CHECKPOINT_EVERY
    assert report.root_hash == root_from_leaf_hashes([e.leaf_hash() for e in entries])
    assert report.latest_checkpoint.tree_size == ENTRIES
    assert report.key_pinned
    assert (report.first_position, report.last_position) == (
        entries[0].position,
        entries[-1].position,
    )


def test_a_file_verifies_exactly_like_its_lines(honest: list[str], tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(honest), encoding="utf-8")
    from_file = verify_export(path)
    assert from_file == verify_export(honest)
    assert from_file == verify_export([line.encode() for line in honest])
    assert from_file == verify_export(["".join(honest)])  # chunks need not be lines


def test_the_writer_writes_a_file_that_verifies(
    key: SigningKey, entries: list[LedgerEntry], tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    write_export(path, entries[:250], checkpoints_for(key, entries[:250]), key.vkey, ORIGIN)
    assert verify_export(path).entries == 250
    with pytest.raises(FileExistsError):  # never overwrites an export
        write_export(path, entries[:250], checkpoints_for(key, entries[:250]), key.vkey, ORIGIN)


def test_progress_is_reported_as_entries_are_processed(
    honest: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "PROGRESS_EVERY", 256)
    seen: list[int] = []
    verify_export(honest, progress=seen.append)
    # once as each multiple of 256 is passed (at the end of the run of entries that passed
    # it: here a checkpoint every 100), then at the end
    assert seen == [300, 600, 800, ENTRIES]


def test_an_empty_log_with_its_empty_checkpoint_verifies(key: SigningKey) -> None:
    note = sign_checkpoint(key, ORIGIN, 0, hashlib.sha256(b"").digest())
    report = verify_export(export_lines([], [note], key.vkey, ORIGIN))
    assert (report.entries, report.checkpoints, report.first_position) == (0, 1, None)


def test_json_other_than_the_writers_own_layout_is_read_as_json_reads_it(
    honest: list[str],
) -> None:
    """Reordered members, whitespace and escapes take the slow path, with the same result."""
    lines = list(honest)
    for leaf_index in (0, 1, 500):
        i = index_of_entry(lines, leaf_index)
        obj = json.loads(lines[i])
        reordered = dict(reversed(list(obj.items())))
        lines[i] = json.dumps(reordered, indent=None, separators=(", ", " : ")) + "\n"
    i = index_of_entry(lines, 2)
    lines[i] = lines[i].replace("/", "\\/").replace('"topic"', '"\\u0074opic"')
    assert verify_export(lines) == verify_export(honest)


# -- alterations, each named ------------------------------------------------------------------


def test_one_changed_payload_byte_is_detected_and_that_entry_named(
    honest: list[str], entries: list[LedgerEntry]
) -> None:
    lines = list(honest)
    edit_entry(lines, 537, flip_payload_byte)
    finding = finding_of(lines)
    assert finding.kind is FindingKind.ALTERED
    assert (finding.leaf_index, finding.position) == (537, entries[537].position)
    assert finding.line_number == index_of_entry(lines, 537) + 1
    assert finding.confirmed_size == 500


@pytest.mark.parametrize(
    "change",
    [
        {"originator_version": 99},
        {"topic": "x:Y"},
        {"position": 10**6},
        {"recorded_at": "2030-01-01T00:00:00Z"},
        {"state_b64": "bm90IHdoYXQgd2FzIHNlYWxlZA=="},
        {"state_b64": "not base64 at all!"},
    ],
)
def test_any_changed_field_is_detected_and_that_entry_named(
    honest: list[str], change: dict[str, Any]
) -> None:
    lines = list(honest)
    edit_entry(lines, 42, lambda obj: obj["entry"].update(change))
    finding = finding_of(lines)
    assert (finding.kind, finding.leaf_index) == (FindingKind.ALTERED, 42)


def test_an_entry_rewritten_together_with_its_sealed_hash_is_caught_by_the_signed_root(
    honest: list[str],
) -> None:
    """The sealed hash only helps name the entry; the signed root is what proves it."""

    def rewrite(obj: dict[str, Any]) -> None:
        flip_payload_byte(obj)
        forge_leaf_hash(obj)

    lines = list(honest)
    edit_entry(lines, 537, rewrite)
    finding = finding_of(lines)
    assert finding.kind is FindingKind.ROOT_MISMATCH
    assert finding.leaf_index == finding.confirmed_size == 500  # first entry not proven
    assert "500..599" in finding.detail


def test_a_deleted_entry_is_named_as_missing(honest: list[str], entries: list[LedgerEntry]) -> None:
    lines = list(honest)
    del lines[index_of_entry(lines, 537)]
    finding = finding_of(lines)
    assert (finding.kind, finding.leaf_index) == (FindingKind.MISSING, 537)
    assert finding.confirmed_size == 500


def test_a_deleted_entry_whose_successors_were_renumbered_is_still_caught(
    honest: list[str],
) -> None:
    lines = list(honest)
    del lines[index_of_entry(lines, 537)]
    for leaf_index in range(538, ENTRIES):
        edit_entry(lines, leaf_index, lambda obj: obj.update(leaf_index=obj["leaf_index"] - 1))
    finding = finding_of(lines)
    assert finding.kind is FindingKind.MISSING
    assert finding.confirmed_size == 500 <= 537  # the unproven range holds the deleted entry


def test_two_swapped_entries_are_named_as_reordered(
    honest: list[str], entries: list[LedgerEntry]
) -> None:
    lines = list(honest)
    a, b = index_of_entry(lines, 300), index_of_entry(lines, 301)
    lines[a], lines[b] = lines[b], lines[a]
    finding = finding_of(lines)
    assert finding.kind is FindingKind.REORDERED
    assert (finding.leaf_index, finding.position) == (300, entries[300].position)


def test_swapped_contents_under_unchanged_leaf_numbers_are_named_as_reordered(
    honest: list[str], entries: list[LedgerEntry]
) -> None:
    lines = list(honest)
    a, b = index_of_entry(lines, 300), index_of_entry(lines, 305)
    first, second = json.loads(lines[a]), json.loads(lines[b])
    first["leaf_index"], second["leaf_index"] = 305, 300
    lines[a] = json.dumps(second, separators=(",", ":")) + "\n"
    lines[b] = json.dumps(first, separators=(",", ":")) + "\n"
    finding = finding_of(lines)
    assert finding.kind is FindingKind.REORDERED
    assert finding.leaf_index == 300  # the first entry out of place
    assert finding.position == entries[305].position  # …which now carries entry 305


def test_an_inserted_entry_is_caught(honest: list[str], entries: list[LedgerEntry]) -> None:
    lines = list(honest)
    forged = LedgerEntry(
        entries[536].position + 1 if entries[537].position > entries[536].position + 1 else 0,
        entries[536].originator_id,
        99,
        entries[536].topic,
        b'{"forged":true}',
        entries[536].recorded_at,
    )
    i = index_of_entry(lines, 537)
    lines.insert(i, verify.entry_line(537, forged, forged.leaf_hash()))
    finding = finding_of(lines)
    assert finding.confirmed_size == 500
    assert finding.kind in (FindingKind.REORDERED, FindingKind.MISSING, FindingKind.ROOT_MISMATCH)


# -- checkpoints ------------------------------------------------------------------------------


def test_a_forged_checkpoint_signature_is_detected(honest: list[str]) -> None:
    lines = list(honest)
    i = next(i for i, line in enumerate(lines) if '"checkpoint"' in line and "\\n300\\n" in line)
    note = json.loads(lines[i])["note"]
    body, signature_line = note.split("\n\n")
    raw = bytearray(base64.b64decode(signature_line.split(" ")[2]))
    raw[-1] ^= 0x01
    forged = f"{body}\n\n\u2014 {ORIGIN} {base64.b64encode(bytes(raw)).decode()}\n"
    lines[i] = verify.checkpoint_line(forged)
    finding = finding_of(lines)
    assert finding.kind is FindingKind.BAD_SIGNATURE
    assert finding.line_number == i + 1
    assert finding.confirmed_size == 200


def test_an_export_re_signed_under_a_new_key_passes_only_if_the_key_is_not_pinned(
    key: SigningKey, entries: list[LedgerEntry]
) -> None:
    tampered = list(entries)
    tampered[10] = LedgerEntry(
        entries[10].position,
        entries[10].originator_id,
        entries[10].originator_version,
        entries[10].topic,
        b'{"rewritten":true}',
        entries[10].recorded_at,
    )
    attacker = generate_signing_key(ORIGIN)
    lines = list(export_lines(tampered, checkpoints_for(attacker, tampered), attacker.vkey, ORIGIN))
    assert not verify_export(lines).key_pinned  # internally consistent, proves nothing
    assert finding_of(lines, trusted_vkey=key.vkey).kind is FindingKind.KEY_MISMATCH


def test_a_checkpoint_of_another_log_is_refused(key: SigningKey, honest: list[str]) -> None:
    lines = list(honest)
    i = next(i for i, line in enumerate(lines) if '"checkpoint"' in line)
    lines[i] = verify.checkpoint_line(sign_checkpoint(key, "other.example/log", 100, bytes(32)))
    assert finding_of(lines).kind is FindingKind.ORIGIN_MISMATCH


def test_two_different_signed_roots_for_one_size_are_reported(
    key: SigningKey, honest: list[str]
) -> None:
    lines = list(honest)
    i = next(i for i, line in enumerate(lines) if '"checkpoint"' in line)
    lines.insert(i + 1, verify.checkpoint_line(sign_checkpoint(key, ORIGIN, 100, bytes(32))))
    finding = finding_of(lines)
    assert finding.kind is FindingKind.ROOT_MISMATCH
    assert "two different roots" in finding.detail


# -- truncation -------------------------------------------------------------------------------


def test_entries_removed_from_the_end_are_detected_when_a_later_checkpoint_remains(
    honest: list[str],
) -> None:
    lines = list(honest)
    last = lines.pop()
    del lines[index_of_entry(lines, 950) :]
    lines.append(last)
    finding = finding_of(lines)
    assert (finding.kind, finding.leaf_index, finding.confirmed_size) == (
        FindingKind.MISSING,
        950,
        900,
    )


def test_an_export_whose_last_checkpoint_was_cut_is_detected(honest: list[str]) -> None:
    finding = finding_of(honest[:-1])
    assert (finding.kind, finding.leaf_index) == (FindingKind.UNSEALED, 900)


def test_an_export_cut_in_the_middle_of_a_line_is_detected(honest: list[str]) -> None:
    text = "".join(honest)
    for cut in (len(text) - 5, len(text) // 2, len(text) - 1):
        with pytest.raises(ExportVerificationError) as caught:
            verify_export([text[:cut]])
        assert caught.value.finding.kind is FindingKind.UNSEALED, cut


def test_an_export_cut_right_after_a_checkpoint_is_caught_by_a_later_trusted_checkpoint(
    key: SigningKey, honest: list[str], entries: list[LedgerEntry]
) -> None:
    """A prefix ending in a checkpoint is a valid, older export; only what the auditor kept
    from before can tell it is not the latest."""
    i = next(i for i, line in enumerate(honest) if '"checkpoint"' in line and "\\n500\\n" in line)
    older = honest[: i + 1]
    assert verify_export(older).entries == 500
    trusted = checkpoints_for(key, entries)[-1]
    finding = finding_of(older, trusted_checkpoint=trusted)
    assert finding.kind is FindingKind.TRUSTED_MISMATCH
    assert "truncated or the log was rolled back" in finding.detail


# -- a checkpoint the auditor kept ------------------------------------------------------------


def test_an_export_agreeing_with_the_auditors_earlier_checkpoint_verifies(
    key: SigningKey, honest: list[str], entries: list[LedgerEntry]
) -> None:
    kept = checkpoints_for(key, entries[:437], every=437)[-1]  # a size with no export checkpoint
    report = verify_export(honest, trusted_checkpoint=kept, trusted_vkey=key.vkey)
    assert report.trusted_relation == "covered"
    assert report.trusted_checkpoint is not None and report.trusted_checkpoint.tree_size == 437


def test_history_rewritten_since_the_auditors_checkpoint_is_detected(
    key: SigningKey, entries: list[LedgerEntry]
) -> None:
    kept = checkpoints_for(key, entries[:437], every=437)[-1]
    rewritten = [*entries[:200], *synthetic_entries(ENTRIES, seed=8)[200:]]
    lines = list(export_lines(rewritten, checkpoints_for(key, rewritten), key.vkey, ORIGIN))
    assert verify_export(lines).entries == ENTRIES  # the log re-signed its rewritten history…
    finding = finding_of(lines, trusted_checkpoint=kept)  # …but the auditor kept the old root
    assert finding.kind is FindingKind.TRUSTED_MISMATCH
    assert finding.confirmed_size == 0


def test_an_auditors_checkpoint_signed_by_another_key_means_the_key_was_replaced(
    entries: list[LedgerEntry], honest: list[str]
) -> None:
    other = generate_signing_key(ORIGIN)
    kept = checkpoints_for(other, entries[:100])[-1]
    assert finding_of(honest, trusted_checkpoint=kept).kind is FindingKind.TRUSTED_MISMATCH


def test_an_older_export_is_accepted_with_a_consistency_proof_to_the_auditors_checkpoint(
    key: SigningKey, honest: list[str], entries: list[LedgerEntry]
) -> None:
    i = next(i for i, line in enumerate(honest) if '"checkpoint"' in line and "\\n500\\n" in line)
    older = honest[: i + 1]
    kept = checkpoints_for(key, entries)[-1]  # the auditor has seen size 1000 already
    leaves = [e.leaf_hash() for e in entries]
    proof = consistency_proof(leaves, 500, ENTRIES)
    report = verify_export(older, trusted_checkpoint=kept, consistency_proof=proof)
    assert report.trusted_relation == "prefix-proven"
    forked = consistency_proof([*leaves[:499], leaves[0], *leaves[500:]], 500, ENTRIES)
    finding = finding_of(older, trusted_checkpoint=kept, consistency_proof=forked)
    assert finding.kind is FindingKind.TRUSTED_MISMATCH


# -- malformed exports ------------------------------------------------------------------------


def in_first_entry(old: str, new: str) -> Callable[[list[str]], None]:
    def mangle(lines: list[str]) -> None:
        assert old in lines[1]
        lines[1] = lines[1].replace(old, new, 1)

    return mangle


def insert_line(text: str) -> Callable[[list[str]], None]:
    return lambda lines: lines.insert(1, text)


def replace_header(text: str) -> Callable[[list[str]], None]:
    return lambda lines: lines.__setitem__(0, text)


@pytest.mark.parametrize(
    ("mangle", "line_number"),
    [
        pytest.param(insert_line("not json\n"), 2, id="not-json"),
        pytest.param(insert_line("\n"), 2, id="blank-line"),
        pytest.param(insert_line('{"kind":"note","text":"hi"}\n'), 2, id="unknown-kind"),
        pytest.param(insert_line("[1,2]\n"), 2, id="not-an-object"),
        pytest.param(replace_header('{"format":"other"}\n'), 1, id="bad-header"),
        pytest.param(lambda lines: lines.pop(0), 1, id="no-header"),
        pytest.param(in_first_entry("}\n", ',"extra":1}\n'), 2, id="extra-member"),
        pytest.param(in_first_entry("}\n", ',"kind":"entry"}\n'), 2, id="duplicate-member"),
        pytest.param(in_first_entry('"position":', '"position":true,"p":'), 2, id="bool-as-int"),
        pytest.param(in_first_entry('"leaf_index":0', '"leaf_index":0.0'), 2, id="float-as-int"),
        pytest.param(in_first_entry('"leaf_index":0', '"leaf_index":00'), 2, id="leading-zero"),
        pytest.param(in_first_entry("\n", "\r\n"), 2, id="crlf"),
        pytest.param(in_first_entry('"leaf_hash":"', '"leaf_hash":"A'), 2, id="bad-leaf-hash"),
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(
    honest: list[str], mangle: Callable[[list[str]], object], line_number: int
) -> None:
    lines = list(honest)
    mangle(lines)
    finding = finding_of(lines)
    assert finding.kind is FindingKind.MALFORMED
    assert finding.line_number == line_number


def test_a_line_json_would_refuse_is_refused_even_if_its_hash_was_forged(
    honest: list[str],
) -> None:
    """The fast path hashes a leaf without parsing it; only the sealer's leaves reach a root."""

    def forge(obj: dict[str, Any]) -> None:
        obj["entry"]["state_b64"] = "AAAA\u0001"  # a raw control character, see below
        forge_leaf_hash(obj)

    lines = list(honest)
    edit_entry(lines, 5, forge)
    lines[index_of_entry(lines, 5)] = lines[index_of_entry(lines, 5)].replace("\\u0001", "\x01")
    finding = finding_of(lines)
    assert finding.kind is FindingKind.ROOT_MISMATCH
    assert finding.leaf_index == finding.confirmed_size == 0
    assert "0..99" in finding.detail


def test_insignificant_json_whitespace_is_accepted(honest: list[str]) -> None:
    lines = list(honest)
    in_first_entry("}\n", "\t}\n")(lines)
    in_first_entry('{"kind"', '{ "kind"')(lines)
    assert verify_export(lines).entries == ENTRIES


def test_entries_must_be_canonical_whatever_path_reads_them(honest: list[str]) -> None:
    lines = list(honest)
    def shout(obj: dict[str, Any]) -> None:
        obj["entry"]["originator_id"] = obj["entry"]["originator_id"].upper()

    edit_entry(lines, 3, shout)
    finding = finding_of(lines)
    assert (finding.kind, finding.leaf_index) == (FindingKind.MALFORMED, 3)
    assert "lowercase UUID" in finding.detail


# -- the writer -------------------------------------------------------------------------------


def test_the_writer_keeps_the_sealed_hashes_so_a_store_side_change_is_named(
    key: SigningKey, entries: list[LedgerEntry]
) -> None:
    """The sealer's hashes came from the entries as sealed; the store now holds another."""
    sealed = [e.leaf_hash() for e in entries]
    in_store = list(entries)
    in_store[77] = LedgerEntry(
        entries[77].position,
        entries[77].originator_id,
        entries[77].originator_version,
        entries[77].topic,
        entries[77].state + b" ",
        entries[77].recorded_at,
    )
    lines = export_lines(
        in_store, checkpoints_for(key, entries), key.vkey, ORIGIN, sealed_leaf_hashes=sealed
    )
    finding = finding_of(list(lines))
    assert (finding.kind, finding.leaf_index) == (FindingKind.ALTERED, 77)


def test_the_writer_refuses_exports_that_could_not_verify(
    key: SigningKey, entries: list[LedgerEntry]
) -> None:
    notes = checkpoints_for(key, entries[:300])
    with pytest.raises(ExportWriteError, match="beyond the latest checkpoint"):
        list(export_lines(entries[:301], notes, key.vkey, ORIGIN))
    with pytest.raises(ExportWriteError, match="only 299 entries"):
        list(export_lines(entries[:299], notes, key.vkey, ORIGIN))
    with pytest.raises(ExportWriteError, match="at least one checkpoint"):
        list(export_lines(entries[:300], [], key.vkey, ORIGIN))
    with pytest.raises(ExportWriteError, match="origin"):
        list(export_lines(entries[:300], notes, key.vkey, "other.example/log"))


def test_the_canonical_leaf_encoding_has_a_fixed_known_answer() -> None:
    """The worked example of docs/integrity.md: reimplementations can check against it."""
    entry = LedgerEntry(
        position=42,
        originator_id="3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        originator_version=3,
        topic="ledger.domain.decision:Decision.Adopted",
        state=b'{"title":"Budget 2025"}',
        recorded_at="2025-01-02T03:04:05.123456+00:00",
    )
    data = entry.leaf_data()
    assert data == (
        b'{"format":"samsyn-leaf-v2","position":42,'
        b'"originator_id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301","originator_version":3,'
        b'"topic":"ledger.domain.decision:Decision.Adopted",'
        b'"recorded_at":"2025-01-02T03:04:05.123456+00:00",'
        b'"state_b64":"eyJ0aXRsZSI6IkJ1ZGdldCAyMDI1In0="}'
    )
    assert json.loads(data) == {
        "format": "samsyn-leaf-v2",
        "position": 42,
        "originator_id": entry.originator_id,
        "originator_version": 3,
        "topic": entry.topic,
        "recorded_at": entry.recorded_at,
        "state_b64": base64.b64encode(entry.state).decode(),
    }
    assert entry.leaf_hash() == hashlib.sha256(b"\x00" + data).digest()
    # computed independently with printf and sha256sum (see docs/integrity.md)
    assert entry.leaf_hash().hex() == (
        "9e349ceb924426b3596054c3d6498fdd0852ddf96d51814ed139f97d242e7b5c"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"position": -1},
        {"position": True},
        {"originator_id": "3F2504E0-4F89-41D3-9A0C-0305E82C3301"},
        {"originator_id": "3f2504e04f8941d39a0c0305e82c3301"},
        {"topic": ""},
        {"topic": 'say "hi"'},
        {"topic": "back\\slash"},
        {"topic": "tab\there"},
        {"topic": "Beslut:Förslag"},
        {"state": "text"},
        {"recorded_at": "2025-01-02T03:04:05+02:00"},
        {"recorded_at": "2025-01-02"},
    ],
)
def test_entries_that_cannot_be_encoded_canonically_are_refused(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "position": 1,
        "originator_id": "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
        "originator_version": 1,
        "topic": "t",
        "state": b"",
        "recorded_at": "2025-01-02T03:04:05Z",
    }
    with pytest.raises(EncodingError):
        LedgerEntry(**(fields | change))


# -- parallel verification --------------------------------------------------------------------


def test_parallel_reading_sees_every_line_once_whatever_the_range_boundaries(
    honest: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    data = "".join(honest).encode()
    path.write_bytes(data)
    expected = data.split(b"\n")[:-1]
    for step in (5, 7, 100, 4096, len(data)):
        lines: list[bytes] = []
        for start in range(0, len(data), step):
            block = verify._digest_range(str(path), start, start + step)
            base = len(lines)  # lines of the earlier blocks
            for item in block.items:
                if isinstance(item, verify._Run):  # vouched-for entries: check their indexes
                    assert item.offset == len(lines) - base
                    for i in range(len(item.positions)):
                        lines.append(expected[len(lines)])
                        assert item.first_index + i == json.loads(lines[-1])["leaf_index"]
                else:
                    assert item[0] == len(lines) - base
                    lines.append(item[1])
            assert len(lines) - base == block.line_count
        assert lines == expected, step


def _outcome(path: Path, workers: int) -> VerificationReport | Finding:
    try:
        return verify_export(path, workers=workers)
    except ExportVerificationError as error:
        return error.finding


def test_parallel_verification_finds_exactly_what_sequential_verification_finds(
    honest: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify, "_RANGE_BYTES", 50_000)  # ~70 lines per worker task
    cases: dict[str, list[str]] = {"honest": list(honest)}
    cases["altered"] = list(honest)
    edit_entry(cases["altered"], 537, flip_payload_byte)
    cases["deleted"] = list(honest)
    del cases["deleted"][index_of_entry(honest, 537)]
    cases["swapped"] = list(honest)
    a, b = index_of_entry(honest, 300), index_of_entry(honest, 900)
    cases["swapped"][a], cases["swapped"][b] = honest[b], honest[a]
    cases["cut"] = list(honest[:-1])
    cases["cut-before-last-newline"] = [*honest[:-1], honest[-1].removesuffix("\n")]
    cases["cut-mid-line"] = [*honest[:-1], honest[-1][:40]]
    for name, lines in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        assert _outcome(path, workers=2) == _outcome(path, workers=0), name


def test_bounded_diagnostic_memory_does_not_weaken_detection(
    honest: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap, entries are no longer kept for naming; every check still runs."""
    monkeypatch.setattr(verify, "_MAX_PENDING", 10)
    assert verify_export(honest).entries == ENTRIES
    altered = list(honest)
    edit_entry(altered, 537, flip_payload_byte)
    assert (finding_of(altered).kind, finding_of(altered).leaf_index) == (FindingKind.ALTERED, 537)
    swapped = list(honest)
    a, b = index_of_entry(swapped, 560), index_of_entry(swapped, 590)
    first, second = json.loads(swapped[a]), json.loads(swapped[b])
    first["leaf_index"], second["leaf_index"] = 590, 560
    swapped[a] = json.dumps(second, separators=(",", ":")) + "\n"
    swapped[b] = json.dumps(first, separators=(",", ":")) + "\n"
    assert finding_of(swapped).kind is FindingKind.REORDERED
