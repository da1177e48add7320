"""Prefix filtering for token-sequence similarity: candidate pairs that can reach a ratio, never missing one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

# Bounds are computed in floating point; this slack keeps them on the safe side (more candidates, never fewer).
_EPS = 1e-9
_CHUNK_TOKENS = 8_000_000
"""Tokens sorted at a time when computing prefixes; bounds memory, and keeps a text number under 24 bits."""
_EXHAUSTIVE_CHOICES = 50_000
"""Choices per brute-force `cdist` call: bounds the score matrix of an exhaustive search."""
_MAX_OCCURRENCE = 255
KNOWN_RANKS = 1 << 32
"""Ranks of indexed tokens start here, so a query's unknown tokens (ranks below) come first in every prefix."""


@dataclass(frozen=True)
class Ragged:
    """Rows of different lengths stored flat: row i is values[offsets[i]:offsets[i + 1]]."""

    offsets: np.ndarray  # int64, one more than the rows
    values: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[np.ndarray], dtype: type) -> Ragged:
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in rows], out=offsets[1:])
        values = np.concatenate(rows).astype(dtype, copy=False) if rows else np.zeros(0, dtype=dtype)
        return cls(offsets, values)

    @classmethod
    def concat(cls, parts: Sequence[Ragged]) -> Ragged:
        offsets = [np.zeros(1, dtype=np.int64)]
        base = 0
        for part in parts:
            offsets.append(part.offsets[1:] - part.offsets[0] + base)
            base += int(part.offsets[-1] - part.offsets[0])
        values = np.concatenate([p.values[p.offsets[0] : p.offsets[-1]] for p in parts])
        return cls(np.concatenate(offsets), values)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def lengths(self, rows: np.ndarray | None = None) -> np.ndarray:
        if rows is None:
            return np.diff(self.offsets)
        return self.offsets[rows + 1] - self.offsets[rows]

    def row(self, i: int) -> np.ndarray:
        return self.values[self.offsets[i] : self.offsets[i + 1]]

    def take(self, rows: np.ndarray) -> Ragged:
        """The given rows, in that order, as a new Ragged."""
        starts = self.offsets[rows]
        lengths = self.offsets[rows + 1] - starts
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Ragged(offsets, self.values[spans(starts, lengths)])


def spans(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions start, start+1, ... start+length-1 of every span, concatenated."""
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(ends[-1] if len(ends) else 0)


def length_bounds(lengths: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest and longest sequence that can reach `threshold` (0-100) against each length."""
    t = threshold / 100
    low = np.ceil(lengths * t / (2 - t) - _EPS).astype(np.int64)
    high = np.floor(lengths * (2 - t) / t + _EPS).astype(np.int64)
    return low, high


def prefix_lengths(lengths: np.ndarray, threshold: float) -> np.ndarray:
    """How many of a sequence's rarest tokens must be indexed so that no pair reaching `threshold` is missed.

    ratio = 2·LCS/(la+lb) ≥ t needs a shared multiset of at least α = t·(la+lb)/2 tokens (the LCS is
    one); against the shortest partner allowed, α is smallest, and two sets sharing α tokens must
    share one among the first len-α+1 of each under any common order.
    """
    t = threshold / 100
    low, _ = length_bounds(lengths, threshold)
    overlap = np.ceil(t * (lengths + low) / 2 - _EPS).astype(np.int64)
    return np.clip(lengths - np.maximum(overlap, 1) + 1, 0, lengths)


def prefix_keys(seqs: Ragged, ranks: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first `lengths[i]` tokens of every row, rarest first; `ranks` gives each token's rank (below 2**40).

    A rank stands for its token; the key adds the occurrence number, so a multiset works as a set
    (occurrences past 255 share a key, which can only add candidates). Returns (row, key) pairs.
    """
    rows_out, keys_out = [], []
    start = 0
    while start < len(seqs):
        stop = int(np.searchsorted(seqs.offsets, seqs.offsets[start] + _CHUNK_TOKENS, side="right")) - 1
        stop = min(max(stop, start + 1), len(seqs))
        lo, hi = seqs.offsets[start], seqs.offsets[stop]
        counts = np.diff(seqs.offsets[start : stop + 1])
        local = np.repeat(np.arange(stop - start, dtype=np.uint64), counts)
        order = np.sort((local << np.uint64(40)) | ranks[lo:hi].astype(np.uint64))
        text = (order >> np.uint64(40)).astype(np.int64)
        rank = order & np.uint64((1 << 40) - 1)
        position = np.arange(len(order))
        new_run = np.ones(len(order), dtype=bool)
        new_run[1:] = order[1:] != order[:-1]
        occurrence = position - np.maximum.accumulate(np.where(new_run, position, 0))
        within = position - (seqs.offsets[start:stop] - lo)[text]
        keep = within < lengths[start:stop][text]
        rows_out.append(text[keep] + start)
        occurrence = np.minimum(occurrence[keep], _MAX_OCCURRENCE).astype(np.uint64)
        keys_out.append((rank[keep] << np.uint64(8)) | occurrence)
        start = stop
    if not rows_out:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64)
    return np.concatenate(rows_out), np.concatenate(keys_out)


@dataclass(frozen=True)
class Postings:
    """An inverted index of prefix keys: the rows whose prefix holds each key, keys sorted."""

    keys: np.ndarray  # uint64, sorted
    rows: np.ndarray  # int32

    @classmethod
    def build(cls, rows: np.ndarray, keys: np.ndarray) -> Postings:
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], rows[order].astype(np.int32))

    def lookup(self, query_rows: np.ndarray, query_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distinct (query row, indexed row) pairs that share at least one prefix key."""
        lo = np.searchsorted(self.keys, query_keys, side="left")
        hi = np.searchsorted(self.keys, query_keys, side="right")
        found = np.asarray(self.rows[spans(lo, hi - lo)], dtype=np.int64)
        pairs = np.unique((np.repeat(query_rows, hi - lo).astype(np.int64) << 32) | found)
        return pairs >> 32, pairs & 0xFFFFFFFF


def _lists(seqs: Ragged, rows: np.ndarray) -> list[list[int]]:
    values, offsets = seqs.values, seqs.offsets
    return [values[offsets[r] : offsets[r + 1]].tolist() for r in rows.tolist()]


@dataclass(frozen=True)
class Prefilter:
    """The postings of the indexed side, and the queries' token ranks in the order they were built under."""

    postings: Postings
    query_ranks: np.ndarray  # one per query token, aligned with the queries' values


def similar_pairs(
    queries: Ragged,
    query_rows: np.ndarray,
    indexed: Ragged,
    allowed: np.ndarray,
    threshold: float,
    prefilter: Prefilter | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, indexed row, score) for every pair scoring at least `threshold` with rapidfuzz's ratio.

    `queries` and `indexed` hold token ids in one id space; only `query_rows` are asked, and only
    indexed rows where `allowed` is set can match. With a prefilter, only candidates sharing a
    prefix token are scored; without, every pair is (the brute force the prefilter must agree with).
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(query_rows) == 0:
        return empty, empty, np.zeros(0)
    if prefilter is None:
        return _exhaustive(queries, query_rows, indexed, allowed, threshold)
    asked = queries.take(query_rows)
    ranks = prefilter.query_ranks[spans(queries.offsets[query_rows], asked.lengths())]
    rows, keys = prefix_keys(asked, ranks, prefix_lengths(asked.lengths(), threshold))
    q, found = prefilter.postings.lookup(query_rows[rows], keys)
    low, high = length_bounds(queries.lengths(q), threshold)
    found_lengths = indexed.lengths(found)
    keep = allowed[found] & (found_lengths >= low) & (found_lengths <= high)
    q, found = q[keep], found[keep]
    if len(q) == 0:
        return empty, empty, np.zeros(0)
    unique_q, q_at = np.unique(q, return_inverse=True)
    unique_found, found_at = np.unique(found, return_inverse=True)
    q_lists, found_lists = _lists(queries, unique_q), _lists(indexed, unique_found)
    scores = process.cpdist(
        [q_lists[i] for i in q_at.tolist()],
        [found_lists[i] for i in found_at.tolist()],
        scorer=fuzz.ratio,
        score_cutoff=threshold,
        workers=-1,
        dtype=np.float64,
    )
    hit = scores >= threshold
    return q[hit], found[hit], scores[hit]


def _exhaustive(
    queries: Ragged, query_rows: np.ndarray, indexed: Ragged, allowed: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q_lists = _lists(queries, query_rows)
    choices = np.flatnonzero(allowed)
    found_q, found_rows, found_scores = [], [], []
    for start in range(0, len(choices), _EXHAUSTIVE_CHOICES):
        block = choices[start : start + _EXHAUSTIVE_CHOICES]
        scores = process.cdist(
            q_lists, _lists(indexed, block), scorer=fuzz.ratio, score_cutoff=threshold, workers=-1, dtype=np.float64
        )
        qi, ci = np.nonzero(scores >= threshold)
        found_q.append(query_rows[qi])
        found_rows.append(block[ci])
        found_scores.append(scores[qi, ci])
    if not found_q:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(found_q), np.concatenate(found_rows), np.concatenate(found_scores)
