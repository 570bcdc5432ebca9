"""RFC 9162 Merkle hashing: agreement with published vectors, and proofs that cannot lie."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity.errors import TreeError
from ledger.integrity.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    SubtreeRoots,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "data" / "rfc6962-vectors.json"
"""RFC 6962 / 9162 test vectors as published by transparency-dev/merkle (testonly/constants.go),
kept in the repository so the suite runs from any clone."""


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def leaves(vectors: dict[str, Any]) -> list[bytes]:
    return [leaf_hash(bytes.fromhex(x)) for x in vectors["leaf_inputs_hex"]]


def h(hex_digest: str) -> bytes:
    return bytes.fromhex(hex_digest)


def reference_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 §2.1.1 defines it, recursively: the independent oracle."""
    n = len(leaf_hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(reference_root(leaf_hashes[:k]), reference_root(leaf_hashes[k:]))


def make_leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


# Proof vectors published with transparency-dev/merkle (proof/verify_test.go), over the same
# eight leaves as rfc6962-vectors.json. Leaf numbers there are 1-based; these are 0-based.
PUBLISHED_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
PUBLISHED_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip


# -- published vectors ------------------------------------------------------------------------


def test_the_empty_tree_root_is_the_hash_of_the_empty_string(vectors: dict[str, Any]) -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert root_from_leaf_hashes([]).hex() == vectors["root_hash_by_tree_size_hex"][0]


def test_roots_of_every_prefix_match_the_published_vectors(
    vectors: dict[str, Any], leaves: list[bytes]
) -> None:
    for size, expected in enumerate(vectors["root_hash_by_tree_size_hex"]):
        assert root_from_leaf_hashes(leaves[:size]).hex() == expected, f"tree size {size}"


def test_the_accumulator_reaches_every_published_root_while_appending(
    vectors: dict[str, Any], leaves: list[bytes]
) -> None:
    acc = MerkleAccumulator()
    roots = [acc.root()]
    for leaf in leaves:
        acc.append(leaf)
        roots.append(acc.root())
    assert [r.hex() for r in roots] == vectors["root_hash_by_tree_size_hex"]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    left, right = b"a" * 32, b"b" * 32
    assert node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize(("index", "size", "expected"), PUBLISHED_INCLUSION)
def test_inclusion_proofs_equal_the_published_ones_and_verify(
    leaves: list[bytes], index: int, size: int, expected: list[str]
) -> None:
    proof = inclusion_proof(leaves, index, size)
    assert [p.hex() for p in proof] == expected
    assert verify_inclusion(leaves[index], index, size, proof, reference_root(leaves[:size]))


@pytest.mark.parametrize(("old", "new", "expected"), PUBLISHED_CONSISTENCY)
def test_consistency_proofs_equal_the_published_ones_and_verify(
    leaves: list[bytes], old: int, new: int, expected: list[str]
) -> None:
    proof = consistency_proof(leaves, old, new)
    assert [p.hex() for p in proof] == expected
    old_root, new_root = reference_root(leaves[:old]), reference_root(leaves[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)


# -- trivial and degenerate cases -------------------------------------------------------------


def test_a_single_leaf_is_its_own_root_with_an_empty_proof() -> None:
    leaf = leaf_hash(b"data")
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], b"")
    assert not verify_inclusion(b"", 0, 1, [], leaf)


def test_inclusion_in_an_empty_tree_or_beyond_the_size_is_refused() -> None:
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size in [(0, 0), (1, 0), (2, 1), (-1, 4)]:
        assert not verify_inclusion(some, index, size, [], EMPTY_ROOT)


def test_equal_sizes_are_consistent_only_with_equal_roots_and_no_proof() -> None:
    a, b = make_leaves(2)
    assert verify_consistency(1, 1, a, a, [])
    assert not verify_consistency(1, 1, a, b, [])
    assert not verify_consistency(1, 1, a, a, [a])


def test_every_tree_extends_the_empty_tree_but_only_from_the_empty_root() -> None:
    root = root_from_leaf_hashes(make_leaves(3))
    assert verify_consistency(0, 3, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 3, EMPTY_ROOT, root, [EMPTY_ROOT])
    assert not verify_consistency(0, 3, root, root, [])  # a size-0 tree has only one root


def test_a_tree_cannot_shrink() -> None:
    leaves = make_leaves(4)
    assert not verify_consistency(
        4, 2, root_from_leaf_hashes(leaves), root_from_leaf_hashes(leaves[:2]), []
    )


def test_a_nonempty_consistency_proof_is_required_between_different_sizes() -> None:
    leaves = make_leaves(2)
    assert not verify_consistency(
        1, 2, root_from_leaf_hashes(leaves[:1]), root_from_leaf_hashes(leaves), []
    )


def test_proofs_are_not_generated_for_positions_the_tree_does_not_have() -> None:
    leaves = make_leaves(5)
    with pytest.raises(TreeError):
        inclusion_proof(leaves, 5, 5)
    with pytest.raises(TreeError):
        inclusion_proof(leaves, 0, 6)
    with pytest.raises(TreeError):
        consistency_proof(leaves, 6, 5)
    with pytest.raises(TreeError):
        root_from_inclusion_proof(leaves[0], 0, 2, [])  # too short for a tree of 2


def test_the_tree_size_is_only_bound_through_the_signed_checkpoint() -> None:
    """RFC 9162 proofs bind the size only through the path's shape: index 0 has the same
    path in trees of 3 and 4 leaves. That is why a proof must always be checked against the
    size *and* root of one signed checkpoint, never a size from elsewhere."""
    leaves = make_leaves(4)
    proof = inclusion_proof(leaves, 0, 4)
    root = root_from_leaf_hashes(leaves)
    assert verify_inclusion(leaves[0], 0, 4, proof, root)
    assert verify_inclusion(leaves[0], 0, 3, proof, root)


def test_an_accumulator_resumes_from_its_compact_range() -> None:
    leaves = make_leaves(37)
    acc = MerkleAccumulator()
    acc.extend(leaves[:21])
    resumed = MerkleAccumulator.from_compact_range(acc.size, acc.compact_range)
    resumed.extend(leaves[21:])
    assert len(acc.compact_range) == bin(21).count("1")
    assert resumed.root() == reference_root(leaves)
    with pytest.raises(TreeError):
        MerkleAccumulator.from_compact_range(21, acc.compact_range[:-1])


def test_copies_of_an_accumulator_are_independent() -> None:
    leaves = make_leaves(10)
    acc = MerkleAccumulator()
    acc.extend(leaves[:5])
    copy = acc.copy()
    acc.extend(leaves[5:])
    assert copy.size == 5
    assert copy.root() == reference_root(leaves[:5])
    assert acc.root() == reference_root(leaves)


# -- properties over random trees -------------------------------------------------------------

sizes = st.integers(min_value=1, max_value=300)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(sizes)
    return make_leaves(size, draw(st.integers(0, 3))), draw(st.integers(0, size - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    size = draw(st.integers(min_value=2, max_value=300))
    return make_leaves(size, draw(st.integers(0, 3))), draw(st.integers(1, size - 1))


def flip(proof: list[bytes], element: int, byte: int) -> list[bytes]:
    corrupted = list(proof)
    target = bytearray(corrupted[element])
    target[byte] ^= 0x01
    corrupted[element] = bytes(target)
    return corrupted


@settings(max_examples=150, deadline=None)
@given(n=st.integers(min_value=0, max_value=300), salt=st.integers(0, 3))
def test_the_accumulator_agrees_with_the_recursive_definition(n: int, salt: int) -> None:
    leaves = make_leaves(n, salt)
    assert root_from_leaf_hashes(leaves) == reference_root(leaves)


@settings(max_examples=200, deadline=None)
@given(tree_and_index())
def test_every_inclusion_proof_verifies(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    size = len(leaves)
    proof = inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, size, proof, reference_root(leaves))


@settings(max_examples=200, deadline=None)
@given(tree_and_index(), st.data())
def test_every_corrupted_inclusion_proof_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, index = case
    size = len(leaves)
    proof = inclusion_proof(leaves, index)
    root = reference_root(leaves)
    leaf = leaves[index]
    assert verify_inclusion(leaf, index, size, proof, root)

    if proof:
        element = data.draw(st.integers(0, len(proof) - 1), label="element")
        byte = data.draw(st.integers(0, 31), label="byte")
        assert not verify_inclusion(leaf, index, size, flip(proof, element, byte), root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root), "truncated"
        assert not verify_inclusion(leaf, index, size, proof[1:], root), "first removed"
    assert not verify_inclusion(leaf, index, size, [*proof, root], root), "extended"
    assert not verify_inclusion(leaf, index, size, [root, *proof], root), "prefixed"
    assert not verify_inclusion(leaf, index, size, [*proof, b""], root), "trailing garbage"
    for wrong_index in (index - 1, index + 1, index ^ 2):
        assert not verify_inclusion(leaf, wrong_index, size, proof, root), wrong_index
    for wrong_size in (size * 2, size // 2):  # sizes whose paths have another shape
        assert not verify_inclusion(leaf, index, wrong_size, proof, root), wrong_size
    assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, root), "other leaf"
    assert not verify_inclusion(leaf, index, size, proof, EMPTY_ROOT), "other root"


@settings(max_examples=200, deadline=None)
@given(tree_and_old_size())
def test_every_consistency_proof_verifies(case: tuple[list[bytes], int]) -> None:
    leaves, old = case
    proof = consistency_proof(leaves, old)
    assert verify_consistency(
        old, len(leaves), reference_root(leaves[:old]), reference_root(leaves), proof
    )


@settings(max_examples=200, deadline=None)
@given(tree_and_old_size(), st.data())
def test_every_corrupted_consistency_proof_fails(
    case: tuple[list[bytes], int], data: st.DataObject
) -> None:
    leaves, old = case
    new = len(leaves)
    proof = consistency_proof(leaves, old)
    old_root, new_root = reference_root(leaves[:old]), reference_root(leaves)
    assert verify_consistency(old, new, old_root, new_root, proof)

    element = data.draw(st.integers(0, len(proof) - 1), label="element")
    byte = data.draw(st.integers(0, 31), label="byte")
    assert not verify_consistency(old, new, old_root, new_root, flip(proof, element, byte))
    assert not verify_consistency(old, new, old_root, new_root, proof[:-1]), "truncated"
    assert not verify_consistency(old, new, old_root, new_root, []), "empty"
    for extra in (old_root, new_root, proof[0]):
        assert not verify_consistency(old, new, old_root, new_root, [*proof, extra]), "extended"
        assert not verify_consistency(old, new, old_root, new_root, [extra, *proof]), "prefixed"
    for wrong_old in (old - 1, old + 1, old ^ 2):
        assert not verify_consistency(wrong_old, new, old_root, new_root, proof), wrong_old
    for wrong_new in (new * 2, new // 2):
        assert not verify_consistency(old, wrong_new, old_root, new_root, proof), wrong_new
    assert not verify_consistency(old, new, new_root, old_root, proof), "swapped roots"
    assert not verify_consistency(old, new, old_root, leaf_hash(b"x"), proof), "other new root"
    tampered = reference_root([leaf_hash(b"x"), *leaves[1:]])
    assert not verify_consistency(old, new, old_root, tampered, proof), "history rewritten"


@settings(max_examples=40, deadline=None)
@given(sizes_seen=st.lists(st.integers(min_value=1, max_value=1100), min_size=1, max_size=6),
       salt=st.integers(0, 3), data=st.data())
def test_remembered_subtree_roots_give_the_same_roots_and_proofs_as_the_tree_grows(
    sizes_seen: list[int], salt: int, data: st.DataObject
) -> None:
    # One SubtreeRoots over one growing log, as the integrity log keeps it: trees of these
    # sizes, in increasing order, each asked for its root and proofs.
    log = make_leaves(max(sizes_seen), salt)
    roots = SubtreeRoots()
    for size in sorted(sizes_seen):
        leaves = log[:size]
        assert root_from_leaf_hashes(leaves, roots) == root_from_leaf_hashes(leaves)
        index = data.draw(st.integers(0, size - 1), label="index")
        assert inclusion_proof(leaves, index, roots=roots) == inclusion_proof(leaves, index)
        old = data.draw(st.integers(0, size), label="old size")
        assert consistency_proof(leaves, old, roots=roots) == consistency_proof(leaves, old)
    assert max(sizes_seen) < 1 << SubtreeRoots.MIN_HEIGHT or len(roots) > 0


def test_remembered_subtree_roots_are_reused_not_recomputed() -> None:
    leaves = make_leaves(4096, 0)
    roots = SubtreeRoots()
    assert root_from_leaf_hashes(leaves, roots) == root_from_leaf_hashes(leaves)  # hashes all
    remembered = len(roots)
    first = inclusion_proof(leaves, 17, roots=roots)
    calls = 0
    counting = list(leaves)

    class Counting(list[bytes]):
        def __getitem__(self, index: Any) -> Any:
            nonlocal calls
            calls += 1
            return super().__getitem__(index)

    again = inclusion_proof(Counting(counting), 4000, roots=roots)
    assert first == inclusion_proof(leaves, 17)
    assert again == inclusion_proof(leaves, 4000)
    assert remembered == len(roots) == 4096 // 256 * 2 - 1  # every subtree of 256 or more
    assert calls <= 2 * (1 << SubtreeRoots.MIN_HEIGHT)  # only leaves of small subtrees read
