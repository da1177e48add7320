"""The seed index of a tree: every seed question, answer and context as word tokens, with prefix-filter postings."""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bot.similar.prefilter import KNOWN_RANKS, Postings, Ragged, Sequences, fold, prefix_keys, prefix_lengths, spans
from bot.taxonomy.tree import Leaf

FIELDS = ("question", "answer", "context")
SNIPPET_CHARS = 160
_WORD = re.compile(r"\w+|[^\w\s]+")


def words(text: str) -> list[str]:
    """The normalised words of a text: NFKC, case-folded; runs of letters/digits, and runs of punctuation."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def snippet(text: str) -> str:
    return " ".join(text.split())[:SNIPPET_CHARS]


def word_hash(word: str) -> int:
    """A word's stable 64-bit hash: the same in every process, unlike Python's `hash`."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


class _Numbering(dict[str, int]):
    """Word -> number, numbering (and hashing) a word the first time it is looked up."""

    def __init__(self) -> None:
        super().__init__()
        self.hashes: list[int] = []

    def __missing__(self, word: str) -> int:
        number = self[word] = len(self.hashes)
        self.hashes.append(word_hash(word))
        return number


@dataclass
class Tokenizer:
    """Text to word numbers, local to this tokenizer; `word_hashes` gives each number's stable hash."""

    _numbering: _Numbering = field(default_factory=_Numbering)

    def numbers(self, text: str) -> np.ndarray:
        found = words(text)
        return np.fromiter(map(self._numbering.__getitem__, found), dtype=np.int64, count=len(found))

    def word_hashes(self) -> np.ndarray:
        return np.array(self._numbering.hashes, dtype=np.uint64)


@dataclass(frozen=True)
class Text:
    """One seed question, answer or context, tokenised, with its line and a short snippet to show."""

    line: int
    words: np.ndarray  # word numbers of the tokenizer that read it
    snippet: str


@dataclass(frozen=True)
class LeafTexts:
    """What the index keeps of one leaf; contexts are kept once per leaf however many seeds share them."""

    path: str
    blob: str  # the leaf's git blob sha, "" for a leaf not read from git
    questions: list[Text]
    answers: list[Text]
    seed_context: list[int]  # per seed example, its context in `contexts`, or -1
    contexts: list[Text]


def leaf_texts(leaf: Leaf, blob: str, tokenizer: Tokenizer) -> LeafTexts:
    questions, answers, seed_context, contexts = [], [], [], []
    context_at: dict[str, int] = {}
    for seed in leaf.seed_examples:
        questions.append(Text(seed.question_line, tokenizer.numbers(seed.question), snippet(seed.question)))
        answers.append(Text(seed.answer_line, tokenizer.numbers(seed.answer), snippet(seed.answer)))
        if seed.context is None or seed.context_line is None:
            seed_context.append(-1)
            continue
        if seed.context not in context_at:
            context_at[seed.context] = len(contexts)
            contexts.append(Text(seed.context_line, tokenizer.numbers(seed.context), snippet(seed.context)))
        seed_context.append(context_at[seed.context])
    return LeafTexts(leaf.path, blob, questions, answers, seed_context, contexts)


@dataclass(frozen=True)
class Thresholds:
    """Scores (0-100, rapidfuzz ratio over words) from which two texts are near-duplicates."""

    question: float = 93.0
    answer: float = 96.0
    context: float = 80.0
    answer_min_words: int = 4  # shorter answers (labels, numbers) only count together with their question

    def of(self, name: str) -> float:
        return float(getattr(self, name))


@dataclass(frozen=True)
class TextTable:
    """One field of every seed example (or every distinct context): lines, token ids, snippets, postings."""

    lines: np.ndarray  # int32
    tokens: Ragged  # token ids
    folded: np.ndarray  # the token ids folded into a byte each (`prefilter.fold`)
    snippets: Ragged  # utf-8
    postings: Postings

    @property
    def sequences(self) -> Sequences:
        return Sequences(self.tokens, self.folded)

    def snippet(self, row: int) -> str:
        return bytes(self.snippets.row(row)).decode("utf-8", "replace")


@dataclass
class SeedIndex:
    """Every seed example of a tree. Leaves are sorted by path; a token id is a position in `vocab`."""

    thresholds: Thresholds
    paths: Ragged  # utf-8 path per leaf
    blobs: np.ndarray  # S40 blob sha per leaf
    leaf_seeds: np.ndarray  # int64: leaf i's seed examples are rows leaf_seeds[i]:leaf_seeds[i + 1]
    leaf_contexts: np.ndarray  # int64: the same for its distinct contexts
    seed_context: np.ndarray  # int32 per seed example: its context row, or -1
    vocab: np.ndarray  # uint64 word hashes, sorted
    ranks: np.ndarray  # int64 per token id: its place in the rarest-first order of prefixes
    question: TextTable
    answer: TextTable
    context: TextTable

    def table(self, name: str) -> TextTable:
        return {"question": self.question, "answer": self.answer, "context": self.context}[name]

    @property
    def leaf_count(self) -> int:
        return len(self.paths)

    def path(self, leaf: int) -> str:
        return bytes(self.paths.row(leaf)).decode("utf-8")

    @cached_property
    def seed_leaf(self) -> np.ndarray:
        return np.repeat(np.arange(self.leaf_count, dtype=np.int64), np.diff(self.leaf_seeds))

    @cached_property
    def context_leaf(self) -> np.ndarray:
        return np.repeat(np.arange(self.leaf_count, dtype=np.int64), np.diff(self.leaf_contexts))

    def leaf_of(self, path: str) -> int | None:
        """The leaf at `path`, found by bisection so that no path but a few is decoded."""
        at = bisect.bisect_left(range(self.leaf_count), path, key=self.path)
        return at if at < self.leaf_count and self.path(at) == path else None

    def translate(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and prefix ranks for query word hashes; words the index lacks get fresh ids, ranked first."""
        at = np.minimum(np.searchsorted(self.vocab, hashes), max(len(self.vocab) - 1, 0))
        known = (self.vocab[at] == hashes) if len(self.vocab) else np.zeros(len(hashes), dtype=bool)
        fresh = np.unique(hashes[~known], return_inverse=True)[1]
        ids = np.where(known, at, 0).astype(np.int64)
        ids[~known] = len(self.vocab) + fresh
        ranks = np.zeros(len(hashes), dtype=np.int64)
        ranks[known] = self.ranks[ids[known]]
        ranks[~known] = fresh
        return ids, ranks

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as named arrays, for saving; `from_arrays` reads them back."""
        out = {
            "paths_offsets": self.paths.offsets,
            "paths_values": self.paths.values,
            "blobs": self.blobs,
            "leaf_seeds": self.leaf_seeds,
            "leaf_contexts": self.leaf_contexts,
            "seed_context": self.seed_context,
            "vocab": self.vocab,
            "ranks": self.ranks,
        }
        for name in FIELDS:
            table = self.table(name)
            out |= {
                f"{name}_lines": table.lines,
                f"{name}_tokens_offsets": table.tokens.offsets,
                f"{name}_tokens_values": table.tokens.values,
                f"{name}_folded": table.folded,
                f"{name}_snippets_offsets": table.snippets.offsets,
                f"{name}_snippets_values": table.snippets.values,
                f"{name}_keys": table.postings.keys,
                f"{name}_rows": table.postings.rows,
            }
        return out

    @classmethod
    def from_arrays(cls, thresholds: Thresholds, arrays: dict[str, np.ndarray]) -> SeedIndex:
        def table(name: str) -> TextTable:
            return TextTable(
                arrays[f"{name}_lines"],
                Ragged(arrays[f"{name}_tokens_offsets"], arrays[f"{name}_tokens_values"]),
                arrays[f"{name}_folded"],
                Ragged(arrays[f"{name}_snippets_offsets"], arrays[f"{name}_snippets_values"]),
                Postings(arrays[f"{name}_keys"], arrays[f"{name}_rows"]),
            )

        return cls(
            thresholds,
            Ragged(arrays["paths_offsets"], arrays["paths_values"]),
            arrays["blobs"],
            arrays["leaf_seeds"],
            arrays["leaf_contexts"],
            arrays["seed_context"],
            arrays["vocab"],
            arrays["ranks"],
            table("question"),
            table("answer"),
            table("context"),
        )


def _utf8(texts: Sequence[str]) -> Ragged:
    encoded = [np.frombuffer(t.encode("utf-8", "surrogatepass"), dtype=np.uint8) for t in texts]
    return Ragged.from_rows(encoded, np.uint8)


@dataclass
class _Part:
    """Rows of one field from fresh leaves, before they join the index."""

    lines: np.ndarray
    words: Ragged
    snippets: Ragged

    @classmethod
    def of(cls, texts: list[Text]) -> _Part:
        return cls(
            np.array([t.line for t in texts], dtype=np.int32),
            Ragged.from_rows([t.words for t in texts], np.int64),
            _utf8([t.snippet for t in texts]),
        )


def build_index(
    thresholds: Thresholds,
    tokenizer: Tokenizer,
    fresh: Sequence[LeafTexts],
    previous: SeedIndex | None = None,
    reuse: np.ndarray | None = None,
) -> SeedIndex:
    """An index of the `fresh` leaves (read by `tokenizer`) and of the leaves `reuse` (ids in `previous`)."""
    reuse = np.zeros(0, dtype=np.int64) if reuse is None or previous is None else np.asarray(reuse, dtype=np.int64)
    kept_seeds = previous.leaf_seeds if previous is not None else np.zeros(1, dtype=np.int64)
    kept_contexts = previous.leaf_contexts if previous is not None else np.zeros(1, dtype=np.int64)
    seeds_before, contexts_before = int(kept_seeds[-1]), int(kept_contexts[-1])

    fresh_parts = {
        "question": _Part.of([t for leaf in fresh for t in leaf.questions]),
        "answer": _Part.of([t for leaf in fresh for t in leaf.answers]),
        "context": _Part.of([t for leaf in fresh for t in leaf.contexts]),
    }
    fresh_seed_counts = np.array([len(leaf.questions) for leaf in fresh], dtype=np.int64)
    fresh_context_counts = np.array([len(leaf.contexts) for leaf in fresh], dtype=np.int64)
    fresh_context_starts = np.cumsum(fresh_context_counts) - fresh_context_counts
    fresh_seed_context = np.array(
        [
            c + contexts_before + int(start) if c >= 0 else -1
            for leaf, start in zip(fresh, fresh_context_starts, strict=True)
            for c in leaf.seed_context
        ],
        dtype=np.int64,
    )

    # The vocabulary only grows: words of leaves no longer in the tree stay, unused, until a cold build.
    fresh_words = tokenizer.word_hashes()
    old_vocab = previous.vocab if previous is not None else np.zeros(0, dtype=np.uint64)
    vocab = np.union1d(old_vocab, fresh_words).astype(np.uint64)
    renumber, number = np.searchsorted(vocab, old_vocab), np.searchsorted(vocab, fresh_words)

    # All leaves, kept then fresh, each as (first seed, seed count, first context, context count) in the
    # combined rows (the previous index's rows, then the fresh ones); then put in path order.
    paths = [previous.path(int(i)) for i in reuse] if previous is not None else []
    paths += [leaf.path for leaf in fresh]
    seed_start = np.concatenate([kept_seeds[reuse], seeds_before + np.cumsum(fresh_seed_counts) - fresh_seed_counts])
    seed_count = np.concatenate([kept_seeds[reuse + 1] - kept_seeds[reuse], fresh_seed_counts])
    context_start = np.concatenate([kept_contexts[reuse], contexts_before + fresh_context_starts])
    context_count = np.concatenate([kept_contexts[reuse + 1] - kept_contexts[reuse], fresh_context_counts])
    order = np.array(sorted(range(len(paths)), key=paths.__getitem__), dtype=np.int64)
    seed_rows = spans(seed_start[order], seed_count[order])
    context_rows = spans(context_start[order], context_count[order])

    tables: dict[str, tuple[np.ndarray, Ragged, Ragged]] = {}
    for name, rows in (("question", seed_rows), ("answer", seed_rows), ("context", context_rows)):
        part = fresh_parts[name]
        fresh_tokens = Ragged(part.words.offsets, number[part.words.values])
        if previous is not None:
            old = previous.table(name)
            old_tokens = Ragged(old.tokens.offsets, renumber[old.tokens.values])
            tokens = Ragged.concat([old_tokens, fresh_tokens])
            snippets = Ragged.concat([old.snippets, part.snippets])
            lines = np.concatenate([old.lines, part.lines])
        else:
            tokens, snippets, lines = fresh_tokens, part.snippets, part.lines
        tokens = tokens.take(rows)
        tables[name] = (lines[rows], Ragged(tokens.offsets, tokens.values.astype(np.uint32)), snippets.take(rows))

    old_seed_context = previous.seed_context if previous is not None else np.zeros(0, dtype=np.int32)
    # One slot more than there are contexts, left at -1, so that "no context" (-1) maps to itself.
    context_renumber = np.full(contexts_before + len(fresh_parts["context"].lines) + 1, -1, dtype=np.int64)
    context_renumber[context_rows] = np.arange(len(context_rows))
    seed_context = context_renumber[np.concatenate([old_seed_context.astype(np.int64), fresh_seed_context])[seed_rows]]

    counts = np.bincount(
        np.concatenate([tables[name][1].values for name in FIELDS]).astype(np.int64), minlength=len(vocab)
    )
    ranks = np.empty(len(vocab), dtype=np.int64)
    ranks[np.lexsort((np.arange(len(vocab)), counts))] = KNOWN_RANKS + np.arange(len(vocab))
    kept_blobs = list(previous.blobs[reuse]) if previous is not None else []
    blobs = np.array(kept_blobs + [leaf.blob.encode() for leaf in fresh], dtype="S40")[order]

    def table(name: str) -> TextTable:
        lines, tokens, snippets = tables[name]
        minimum = thresholds.answer_min_words if name == "answer" else 1
        eligible = np.flatnonzero(tokens.lengths() >= minimum)
        asked = tokens.take(eligible)
        rows, keys = prefix_keys(asked, ranks[asked.values], prefix_lengths(asked.lengths(), thresholds.of(name)))
        return TextTable(lines, tokens, fold(tokens.values), snippets, Postings.build(eligible[rows], keys))

    return SeedIndex(
        thresholds,
        _utf8([paths[i] for i in order]),
        blobs,
        np.concatenate([[0], np.cumsum(seed_count[order])]).astype(np.int64),
        np.concatenate([[0], np.cumsum(context_count[order])]).astype(np.int64),
        seed_context.astype(np.int32),
        vocab,
        ranks,
        table("question"),
        table("answer"),
        table("context"),
    )
