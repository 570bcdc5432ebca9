"""RFC 9162 Merkle tree hashing: roots, inclusion and consistency proofs, compact accumulator.

Everything here follows RFC 9162 §2.1 (same hashing as RFC 6962 and Go's
transparency-dev/merkle), so any Certificate Transparency tool can check our proofs:

* leaf hash  = SHA-256(0x00 || leaf data)
* node hash  = SHA-256(0x01 || left || right)
* empty root = SHA-256("")

The distinct prefixes make a leaf impossible to pass off as an interior node (second
pre-image attack). Trees over n leaves split at the largest power of two below n, so a
tree of size n is the same whether built at once or appended to one leaf at a time; that
is what lets a checkpoint at size m be proven a prefix of one at size n.

Proof *generation* works from a sequence of leaf hashes: O(n) hashing per proof as such,
for tests, small logs and offline tools; with a :class:`SubtreeRoots` that remembers the
roots of perfect subtrees over an append-only sequence (the integrity log keeps one), a
proof after the first costs O(log n) remembered roots and a few hundred hashes. Proof
*verification* always recomputes the root from the proof and compares; it never trusts a
claimed intermediate value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .errors import TreeError

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the tree with no leaves (RFC 9162 §2.1.1: the hash of the empty string)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Hash of one leaf: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162's split: the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """An append-only Merkle tree kept as its compact range: one subtree root per set bit.

    The stack holds the roots of the perfect subtrees that make up the tree, largest (leftmost)
    first — the "compact range" of Certificate Transparency. Appending a leaf merges equal
    sized subtrees like binary addition carries, so it costs one node hash amortised and
    O(log n) at worst, and memory stays O(log n) however long the log grows. The root of the
    current size folds the stack from the right, which is exactly RFC 9162's split rule.

    The sealer follows the ledger with one of these (persisting ``compact_range`` to resume),
    and the offline verifier rebuilds the tree with one, so both compute roots the same way.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @classmethod
    def from_compact_range(cls, size: int, subtree_roots: Sequence[bytes]) -> MerkleAccumulator:
        """Resume from a saved ``(size, compact_range)``, e.g. after a sealer restart.

        The number of subtree roots must equal the number of set bits in ``size``. The
        hashes themselves cannot be checked here: compare ``root()`` with a signed
        checkpoint of that size before trusting a resumed accumulator.
        """
        if size < 0:
            raise TreeError(f"tree size must not be negative, got {size}")
        if len(subtree_roots) != size.bit_count():
            raise TreeError(
                f"a tree of size {size} has {size.bit_count()} subtree roots, "
                f"got {len(subtree_roots)}"
            )
        for h in subtree_roots:
            _check_hash(h, "subtree root")
        acc = cls()
        acc._size = size
        acc._stack = list(subtree_roots)
        return acc

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def compact_range(self) -> tuple[bytes, ...]:
        """The subtree roots, largest first; with ``size`` this is all the state there is."""
        return tuple(self._stack)

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf (by its leaf hash) at index ``size``."""
        stack = self._stack
        h = leaf_hash
        n = self._size
        while n & 1:
            h = _sha256(_NODE_PREFIX + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1

    def append_subtree(self, subtree_root: bytes, height: int) -> None:
        """Add a perfect subtree of ``2**height`` leaves, by its root, at index ``size``.

        Only an aligned subtree fits: ``size`` must be a multiple of ``2**height``, as every
        subtree of ``range_subtrees`` is. Merging then carries exactly as ``append`` does,
        from bit ``height`` up.
        """
        n = self._size
        if height < 0 or n & ((1 << height) - 1):
            raise TreeError(f"a subtree of height {height} does not fit at size {n}")
        stack = self._stack
        h = subtree_root
        n >>= height
        while n & 1:
            h = _sha256(_NODE_PREFIX + stack.pop() + h).digest()
            n >>= 1
        stack.append(h)
        self._size += 1 << height

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Add several leaves in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Root hash of the tree over all leaves appended so far (EMPTY_ROOT if none)."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        h = stack[-1]
        for left in reversed(stack[:-1]):
            h = _sha256(_NODE_PREFIX + left + h).digest()
        return h

    def copy(self) -> MerkleAccumulator:
        """An independent accumulator in the same state (cheap: O(log n))."""
        acc = MerkleAccumulator()
        acc._size = self._size
        acc._stack = list(self._stack)
        return acc


def perfect_subtree_root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect tree over ``2**k`` leaf hashes, hashed level by level."""
    level = list(leaf_hashes)
    if not level or len(level) & (len(level) - 1):
        raise TreeError(f"a perfect tree has 2**k leaves, not {len(level)}")
    sha256, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        pairs = iter(level)  # zip takes two at a time: (0, 1), (2, 3), ...
        level = [
            sha256(prefix + left + right).digest()
            for left, right in zip(pairs, pairs, strict=True)
        ]
    return level[0]


def range_subtrees(begin: int, leaf_hashes: Sequence[bytes]) -> list[tuple[int, bytes]]:
    """The leaves ``begin .. begin+len-1`` as aligned perfect subtrees, left to right.

    Each item is ``(height, root)``. Feeding them in order to ``append_subtree`` of an
    accumulator of size ``begin`` gives the same tree as appending the leaves one by one,
    so independent workers can hash disjoint ranges of a log and one place can join them.
    """
    if begin < 0:
        raise TreeError(f"a leaf index is never negative, got {begin}")
    subtrees: list[tuple[int, bytes]] = []
    done, count = 0, len(leaf_hashes)
    while done < count:
        at = begin + done
        size = at & -at if at else 1 << (count - done).bit_length()  # the alignment of `at`
        while size > count - done:
            size >>= 1
        subtrees.append(
            (size.bit_length() - 1, perfect_subtree_root(leaf_hashes[done : done + size]))
        )
        done += size
    return subtrees


class SubtreeRoots:
    """Roots of perfect subtrees of one append-only sequence of leaf hashes, remembered.

    Leaves once appended never change, so the root of ``2**h`` leaves from ``start`` holds
    for every later tree: remembered once computed (for ``h >= MIN_HEIGHT``; smaller ones
    are hashed afresh, at most ``2**MIN_HEIGHT - 1`` node hashes). Use one instance per
    sequence, and only while that sequence is only ever appended to.
    """

    MIN_HEIGHT = 8

    def __init__(self) -> None:
        self._roots: dict[tuple[int, int], bytes] = {}

    def __len__(self) -> int:
        return len(self._roots)

    def perfect(self, leaf_hashes: Sequence[bytes], start: int, height: int) -> bytes:
        """Root of the perfect subtree over leaves ``start .. start + 2**height - 1``."""
        if height < self.MIN_HEIGHT:
            return perfect_subtree_root(leaf_hashes[start : start + (1 << height)])
        key = (start, height)
        root = self._roots.get(key)
        if root is None:
            half = 1 << (height - 1)
            root = node_hash(self.perfect(leaf_hashes, start, height - 1),
                             self.perfect(leaf_hashes, start + half, height - 1))
            self._roots[key] = root
        return root

    def range(self, leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
        """MTH(D[start:end]) (RFC 9162 §2.1.1), from remembered perfect subtrees."""
        size = end - start
        if size <= 0:
            raise TreeError(f"an empty range {start}..{end} has no subtree root")
        if size & (size - 1) == 0:
            return self.perfect(leaf_hashes, start, size.bit_length() - 1)
        k = _largest_power_of_two_below(size)
        return node_hash(self.perfect(leaf_hashes, start, k.bit_length() - 1),
                         self.range(leaf_hashes, start + k, end))


def root_from_leaf_hashes(
    leaf_hashes: Sequence[bytes], roots: SubtreeRoots | None = None
) -> bytes:
    """Merkle tree hash (RFC 9162 MTH) of the given leaf hashes."""
    if roots is not None:
        return roots.range(leaf_hashes, 0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT
    acc = MerkleAccumulator()
    acc.extend(leaf_hashes)
    return acc.root()


def _subtree_root(
    leaf_hashes: Sequence[bytes], start: int, end: int, roots: SubtreeRoots | None
) -> bytes:
    """MTH(D[start:end]) computed from leaf hashes."""
    if roots is not None:
        return roots.range(leaf_hashes, start, end)
    acc = MerkleAccumulator()
    for i in range(start, end):
        acc.append(leaf_hashes[i])
    return acc.root()


def _check_tree_size(leaf_hashes: Sequence[bytes], tree_size: int | None) -> int:
    if tree_size is None:
        return len(leaf_hashes)
    if not 0 <= tree_size <= len(leaf_hashes):
        raise TreeError(f"tree size {tree_size} outside 0..{len(leaf_hashes)} leaves given")
    return tree_size


def inclusion_proof(
    leaf_hashes: Sequence[bytes], index: int, tree_size: int | None = None,
    roots: SubtreeRoots | None = None,
) -> list[bytes]:
    """Audit path of leaf ``index`` in the tree of the first ``tree_size`` leaves.

    RFC 9162 §2.1.3.1 PATH(m, D[n]); hashes are ordered from the leaf's sibling up to the
    child of the root. ``tree_size`` defaults to all the leaves given; ``roots`` remembers
    subtree roots of ``leaf_hashes`` between proofs.
    """
    n = _check_tree_size(leaf_hashes, tree_size)
    if not 0 <= index < n:
        raise TreeError(f"leaf index {index} is not in a tree of size {n}")
    siblings: list[bytes] = []  # collected top-down, returned bottom-up
    lo, hi = 0, n
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            siblings.append(_subtree_root(leaf_hashes, lo + k, hi, roots))
            hi = lo + k
        else:
            siblings.append(_subtree_root(leaf_hashes, lo, lo + k, roots))
            lo = lo + k
    siblings.reverse()
    return siblings


def consistency_proof(
    leaf_hashes: Sequence[bytes], old_size: int, new_size: int | None = None,
    roots: SubtreeRoots | None = None,
) -> list[bytes]:
    """Proof that the tree of size ``old_size`` is a prefix of the tree of size ``new_size``.

    RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true). Empty when the sizes are
    equal or ``old_size`` is 0 (nothing to prove). ``new_size`` defaults to all leaves given;
    ``roots`` remembers subtree roots of ``leaf_hashes`` between proofs.
    """
    n = _check_tree_size(leaf_hashes, new_size)
    m = old_size
    if not 0 <= m <= n:
        raise TreeError(f"old size {m} is not within 0..{n}")
    if m in (0, n):
        return []
    proof: list[bytes] = []  # collected top-down, returned bottom-up
    lo, hi = 0, n
    complete = True  # the b flag of SUBPROOF: is D[lo:lo+m] a subtree the verifier knows?
    while True:
        size = hi - lo
        if m == size:
            if not complete:
                proof.append(_subtree_root(leaf_hashes, lo, hi, roots))
            break
        k = _largest_power_of_two_below(size)
        if m <= k:
            proof.append(_subtree_root(leaf_hashes, lo + k, hi, roots))
            hi = lo + k
        else:
            proof.append(_subtree_root(leaf_hashes, lo, lo + k, roots))
            lo = lo + k
            m -= k
            complete = False
    proof.reverse()
    return proof


def _check_hash(h: bytes, what: str) -> None:
    if not isinstance(h, bytes) or len(h) != HASH_SIZE:
        raise TreeError(f"{what} must be {HASH_SIZE} bytes")


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """The root implied by an audit path (RFC 9162 §2.1.3.2 steps 1-4).

    Raises ``TreeError`` when the proof cannot be for that index and size (wrong length,
    malformed hashes). A returned root still has to be compared with a trusted one.
    """
    if not 0 <= index < tree_size:
        raise TreeError(f"leaf index {index} is not in a tree of size {tree_size}")
    _check_hash(leaf_hash, "leaf hash")
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        _check_hash(p, "proof element")
        if sn == 0:
            raise TreeError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise TreeError("inclusion proof is shorter than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` shows leaf ``index`` with ``leaf_hash`` is in the tree with ``root``.

    Recomputes the root from the leaf and the audit path (RFC 9162 §2.1.3.2) and compares
    it with ``root``; anything malformed is simply False.
    """
    if not _is_hash(root):
        return False
    try:
        return root_from_inclusion_proof(leaf_hash, index, tree_size, proof) == root
    except TreeError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff ``proof`` shows the tree (old_size, old_root) is a prefix of (new_size, new_root).

    RFC 9162 §2.1.4.2, recomputing both roots from the proof. The RFC leaves the trivial
    cases to the caller; like transparency-dev/merkle we accept equal sizes only with an
    empty proof and equal roots, and old size 0 only with an empty proof — and, stricter
    than Go, only if ``old_root`` is the empty-tree root, since that is the only root a
    size-0 tree can have.
    """
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if len(proof) == 0 or not all(_is_hash(p) for p in proof):
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
