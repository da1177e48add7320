"""Prefix filtering: the candidates it scores give exactly the pairs that scoring every pair gives."""

from __future__ import annotations

import numpy as np
import pytest
from rapidfuzz import fuzz

from bot.similar.prefilter import (
    KNOWN_RANKS,
    SHARED,
    Postings,
    Prefilter,
    Ragged,
    Sequences,
    prefix_keys,
    prefix_lengths,
    similar_pairs,
)


def ragged(rows: list[list[int]]) -> Ragged:
    return Ragged.from_rows([np.array(r, dtype=np.int64) for r in rows], np.int64)


def test_ragged_take_and_concat_keep_rows_whole() -> None:
    table = ragged([[1, 2], [], [3, 4, 5]])
    assert [table.take(np.array([2, 0])).row(i).tolist() for i in range(2)] == [[3, 4, 5], [1, 2]]
    joined = Ragged.concat([table, ragged([[6]])])
    assert [joined.row(i).tolist() for i in range(len(joined))] == [[1, 2], [], [3, 4, 5], [6]]
    assert joined.lengths().tolist() == [2, 0, 3, 1]


def test_an_exact_match_needs_only_its_rarest_tokens_and_lower_thresholds_need_more() -> None:
    lengths = np.array([1, 10, 40])
    assert prefix_lengths(lengths, 100).tolist() == [1, SHARED, SHARED]
    assert (prefix_lengths(lengths, 80) >= prefix_lengths(lengths, 93)).all()
    assert prefix_lengths(lengths, 93).tolist() == [1, 1 + SHARED, 5 + SHARED]


def _planted(rng: np.random.Generator, rows: int, vocabulary: int) -> list[list[int]]:
    """Random sequences, many of them edited copies of others, so that every score band is populated."""
    out: list[list[int]] = []
    for _ in range(rows):
        if out and rng.random() < 0.6:
            seq = list(out[rng.integers(len(out))])
            for _ in range(rng.integers(0, 4)):
                at = int(rng.integers(0, len(seq) + 1))
                choice = rng.random()
                if choice < 0.4 and seq:
                    del seq[min(at, len(seq) - 1)]
                elif choice < 0.7:
                    seq.insert(at, int(rng.integers(vocabulary)))
                elif seq:
                    seq[min(at, len(seq) - 1)] = int(rng.integers(vocabulary))
            seq = seq or [0]
        else:
            # Zipf-like words, so rare and very common tokens both occur, repeated within a row too.
            seq = (rng.zipf(1.3, size=int(rng.integers(1, 30))) % vocabulary).tolist()
        out.append(seq)
    return out


@pytest.mark.parametrize("threshold", [60, 80, 93, 96, 100])
def test_prefilter_finds_exactly_what_brute_force_finds(threshold: float) -> None:
    rng = np.random.default_rng(int(threshold))
    vocabulary = 50
    rows = _planted(rng, 700, vocabulary)  # later rows are often edited copies of earlier ones
    indexed, queries = ragged(rows[:600]), ragged(rows[600:])
    counts = np.bincount(indexed.values, minlength=vocabulary + 100)
    ranks = np.empty(len(counts), dtype=np.int64)
    ranks[np.lexsort((np.arange(len(counts)), counts))] = KNOWN_RANKS + np.arange(len(counts))
    rows, keys = prefix_keys(indexed, ranks[indexed.values], prefix_lengths(indexed.lengths(), threshold))
    postings = Postings.build(rows, keys)
    allowed = np.ones(len(indexed), dtype=bool)
    allowed[::5] = False
    asked = np.arange(len(queries))

    prefilter = Prefilter(postings, ranks[queries.values])
    fast = similar_pairs(Sequences.of(queries), asked, Sequences.of(indexed), allowed, threshold, prefilter)
    slow = similar_pairs(Sequences.of(queries), asked, Sequences.of(indexed), allowed, threshold, None)

    def as_set(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, float]]:
        return set(zip(found[0].tolist(), found[1].tolist(), found[2].tolist(), strict=True))

    assert as_set(fast) == as_set(slow)
    assert len(as_set(slow)) >= 10  # the planted copies are found, so the comparison means something
    q, row, score = next(iter(as_set(slow)))
    assert score == pytest.approx(fuzz.ratio(queries.row(q).tolist(), indexed.row(row).tolist()))
    assert allowed[list(fast[1])].all()


def test_unknown_query_tokens_can_match_nothing_yet_leave_the_rest_findable() -> None:
    indexed = ragged([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
    ranks = KNOWN_RANKS + np.arange(20)
    rows, keys = prefix_keys(indexed, ranks[indexed.values], prefix_lengths(indexed.lengths(), 90))
    query = ragged([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99]])  # 99: a word the index has never seen
    query_ranks = np.where(query.values == 99, 0, ranks[np.minimum(query.values, 19)])
    found = similar_pairs(
        Sequences.of(query),
        np.array([0]),
        Sequences.of(indexed),
        np.ones(1, dtype=bool),
        90,
        Prefilter(Postings.build(rows, keys), query_ranks),
    )
    assert found[1].tolist() == [0]
    assert found[2][0] == pytest.approx(95.2, abs=0.1)
