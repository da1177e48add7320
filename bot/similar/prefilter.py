"""Prefix filtering for token-sequence similarity: candidate pairs that can reach a ratio, never missing one."""

from __future__ import annotations

import itertools
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
_SURROGATES, _SURROGATE_COUNT = 0xD800, 0x800
_TEXT_CODE_POINTS = 0x110000 - _SURROGATE_COUNT
"""Distinct tokens one conversion to strings can carry: every code point but the surrogates."""
SHARED = 3
"""Prefix tokens a candidate pair must share (fewer when the pair needs fewer in all): each one more
indexes one more token per text and drops the candidates that share a single rare word by chance."""
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


def min_overlap(lengths_a: np.ndarray, lengths_b: np.ndarray, threshold: float) -> np.ndarray:
    """Tokens two sequences must share (as multisets) to reach `threshold`: ratio = 2·LCS/(la+lb), LCS ≤ shared."""
    return np.maximum(np.ceil(threshold / 100 * (lengths_a + lengths_b) / 2 - _EPS).astype(np.int64), 1)


def prefix_lengths(lengths: np.ndarray, threshold: float) -> np.ndarray:
    """How many of a sequence's rarest tokens to index so that no pair reaching `threshold` is missed.

    A pair reaching it shares α tokens (`min_overlap`); under any common order the first SHARED of
    them lie within the first len-α+SHARED tokens of each sequence (the ℓ-prefix of Wang, Li and
    Feng, SIGMOD 2012). α is smallest against the shortest partner `length_bounds` allows, which
    gives the longest prefix any partner needs.
    """
    low, _ = length_bounds(lengths, threshold)
    return np.clip(lengths - min_overlap(lengths, low, threshold) + SHARED, 0, lengths)


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

    def lookup(self, query_rows: np.ndarray, query_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (query row, indexed row) pairs that share a prefix key, and how many keys they share."""
        lo = np.searchsorted(self.keys, query_keys, side="left")
        hi = np.searchsorted(self.keys, query_keys, side="right")
        found = np.asarray(self.rows[spans(lo, hi - lo)], dtype=np.int64)
        pairs, shared = np.unique((np.repeat(query_rows, hi - lo).astype(np.int64) << 32) | found, return_counts=True)
        return pairs >> 32, pairs & 0xFFFFFFFF, shared


def _as_strings(parts: Sequence[tuple[Ragged, np.ndarray]]) -> list[list[str]] | None:
    """The given rows as strings, one code point per distinct token, or None when there are too many tokens.

    rapidfuzz reads a string's buffer at once but converts a list of ints element by element, which
    makes long texts (contexts) some thirty times slower to score.
    """
    gathered = [seqs.take(rows) for seqs, rows in parts]
    values = np.concatenate([g.values for g in gathered]).astype(np.int64)
    present = np.zeros(int(values.max()) + 1 if len(values) else 1, dtype=bool)
    present[values] = True
    if int(present.sum()) > _TEXT_CODE_POINTS:
        return None
    points = (np.cumsum(present) - 1)[values]
    points += (points >= _SURROGATES) * _SURROGATE_COUNT
    text = points.astype("<u4").tobytes().decode("utf-32-le")
    out, base = [], 0
    for g in gathered:
        out.append([text[a:b] for a, b in itertools.pairwise((g.offsets + base).tolist())])
        base += len(g.values)
    return out


def _pair_lists(
    q_strings: list[str], q_at: np.ndarray, found_strings: list[str], found_at: np.ndarray
) -> tuple[list[str], list[str]]:
    return [q_strings[i] for i in q_at.tolist()], [found_strings[i] for i in found_at.tolist()]


def fold(values: np.ndarray) -> np.ndarray:
    """Token ids folded into one byte each: ids are ranks of word hashes, so the letters spread evenly."""
    return (np.asarray(values) % 256).astype(np.uint8)


@dataclass(frozen=True)
class Sequences:
    """Token rows, and the same tokens folded into one byte each, which scoring reads first."""

    tokens: Ragged
    folded: np.ndarray  # uint8, aligned with tokens.values

    @classmethod
    def of(cls, tokens: Ragged) -> Sequences:
        return cls(tokens, fold(tokens.values))

    def folded_strings(self, rows: np.ndarray) -> list[str]:
        # Slices of a memoryview decode straight from the (mapped) file: no gather through numpy.
        view = memoryview(np.asarray(self.folded))
        starts, ends = self.tokens.offsets[rows].tolist(), self.tokens.offsets[rows + 1].tolist()
        return [str(view[a:b], "latin-1") for a, b in zip(starts, ends, strict=True)]


def _may_reach(
    queries: Sequences, q: np.ndarray, indexed: Sequences, found: np.ndarray, threshold: float
) -> np.ndarray:
    """Which pairs can reach `threshold`, judged on their folded tokens.

    Folding only merges tokens, so a common subsequence stays one and the folded ratio is never
    below the true one; rapidfuzz scores one-byte strings several times faster than wide ones.
    """
    unique_q, q_at = np.unique(q, return_inverse=True)
    unique_found, found_at = np.unique(found, return_inverse=True)
    bound = process.cpdist(
        *_pair_lists(queries.folded_strings(unique_q), q_at, indexed.folded_strings(unique_found), found_at),
        scorer=fuzz.ratio,
        score_cutoff=threshold,
        workers=-1,
        dtype=np.float64,
    )
    return bound >= threshold


def _score_pairs(queries: Ragged, q: np.ndarray, indexed: Ragged, found: np.ndarray, threshold: float) -> np.ndarray:
    unique_q, q_at = np.unique(q, return_inverse=True)
    unique_found, found_at = np.unique(found, return_inverse=True)
    strings = _as_strings([(queries, unique_q), (indexed, unique_found)])
    if strings is None:  # halve until the tokens fit; one pair always does (a leaf is at most 1 MB)
        half = len(q) // 2
        return np.concatenate(
            [
                _score_pairs(queries, q[:half], indexed, found[:half], threshold),
                _score_pairs(queries, q[half:], indexed, found[half:], threshold),
            ]
        )
    return process.cpdist(
        *_pair_lists(strings[0], q_at, strings[1], found_at),
        scorer=fuzz.ratio,
        score_cutoff=threshold,
        workers=-1,
        dtype=np.float64,
    )


@dataclass(frozen=True)
class Prefilter:
    """The postings of the indexed side, and the queries' token ranks in the order they were built under."""

    postings: Postings
    query_ranks: np.ndarray  # one per query token, aligned with the queries' values


def similar_pairs(
    queries: Sequences,
    query_rows: np.ndarray,
    indexed: Sequences,
    allowed: np.ndarray,
    threshold: float,
    prefilter: Prefilter | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query row, indexed row, score) for every pair scoring at least `threshold` with rapidfuzz's ratio.

    `queries` and `indexed` hold token ids in one id space (and folded alike); only `query_rows` are asked, and only
    indexed rows where `allowed` is set can match. With a prefilter, only candidates sharing a
    prefix token are scored; without, every pair is (the brute force the prefilter must agree with).
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(query_rows) == 0:
        return empty, empty, np.zeros(0)
    if prefilter is None:
        return _exhaustive(queries.tokens, query_rows, indexed.tokens, allowed, threshold)
    asked = queries.tokens.take(query_rows)
    ranks = prefilter.query_ranks[spans(queries.tokens.offsets[query_rows], asked.lengths())]
    rows, keys = prefix_keys(asked, ranks, prefix_lengths(asked.lengths(), threshold))
    q, found, shared = prefilter.postings.lookup(query_rows[rows], keys)
    q_lengths, found_lengths = queries.tokens.lengths(q), indexed.tokens.lengths(found)
    low, high = length_bounds(q_lengths, threshold)
    keep = allowed[found] & (found_lengths >= low) & (found_lengths <= high)
    keep &= shared >= np.minimum(SHARED, min_overlap(q_lengths, found_lengths, threshold))
    q, found = q[keep], found[keep]
    if len(q):
        keep = _may_reach(queries, q, indexed, found, threshold)
        q, found = q[keep], found[keep]
    if len(q) == 0:
        return empty, empty, np.zeros(0)
    scores = _score_pairs(queries.tokens, q, indexed.tokens, found, threshold)
    hit = scores >= threshold
    return q[hit], found[hit], scores[hit]


def _exhaustive(
    queries: Ragged, query_rows: np.ndarray, indexed: Ragged, allowed: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    choices = np.flatnonzero(allowed)
    blocks = [choices[start : start + _EXHAUSTIVE_CHOICES] for start in range(0, len(choices), _EXHAUSTIVE_CHOICES)]
    found_q, found_rows, found_scores = [], [], []
    while blocks:
        block = blocks.pop()
        strings = _as_strings([(queries, query_rows), (indexed, block)])
        if strings is None:
            blocks += [block[: len(block) // 2], block[len(block) // 2 :]]
            continue
        scores = process.cdist(*strings, scorer=fuzz.ratio, score_cutoff=threshold, workers=-1, dtype=np.float64)
        qi, ci = np.nonzero(scores >= threshold)
        found_q.append(query_rows[qi])
        found_rows.append(block[ci])
        found_scores.append(scores[qi, ci])
    if not found_q:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(found_q), np.concatenate(found_rows), np.concatenate(found_scores)
