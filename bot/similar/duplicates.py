"""`similar`: near-duplicate seed questions, answers and contexts of a change, against the tree and itself."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum

import numpy as np
from rapidfuzz import fuzz

from bot.similar.prefilter import Prefilter, Ragged, Sequences, similar_pairs
from bot.similar.seedindex import FIELDS, SeedIndex, Thresholds, Tokenizer, build_index, leaf_texts
from bot.taxonomy.config import CONFIG_NAME
from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.tree import Leaf


class MatchKind(StrEnum):
    QNA = "qna"  # the same question with the same answer: a duplicate seed example
    QUESTION = "question"  # the same question, answered differently
    ANSWER = "answer"  # the same answer to a different question
    CONTEXT = "context"  # the same context under another leaf's task, as when one receipt serves four skills


RULES = {
    MatchKind.QNA: "similar/duplicate-qna",
    MatchKind.QUESTION: "similar/duplicate-question",
    MatchKind.ANSWER: "similar/duplicate-answer",
    MatchKind.CONTEXT: "similar/shared-context",
}


@dataclass(frozen=True, order=True)
class Place:
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, order=True)
class Match:
    """Two near-duplicate texts: one in the change, one in the tree or elsewhere in the change."""

    changed: Place
    kind: MatchKind
    other: Place
    score: float  # of the matched texts; for qna, of the questions
    changed_text: str
    other_text: str
    answer_score: float | None = None  # qna and question: how alike the two answers are
    other_in_change: bool = False

    def to_json(self) -> dict[str, object]:
        record = asdict(self)
        record["kind"] = str(self.kind)
        return record


@dataclass
class _Side:
    """The tree searched (the base index, or the change's own) and what of it may match."""

    index: SeedIndex
    excluded: np.ndarray  # leaf ids that must not match
    inside: bool  # searching the change itself: report each pair once, never a text against itself


def find_duplicates(
    index: SeedIndex, leaves: Sequence[Leaf], excluded: Collection[str] = (), exhaustive: bool = False
) -> list[Match]:
    """Near-duplicates of the seed examples of `leaves`, in `index` (but not at the `excluded` paths) and
    among themselves. With `exhaustive`, every pair is scored instead of the prefix filter's candidates.
    """
    tokenizer = Tokenizer()
    change = build_index(index.thresholds, tokenizer, [leaf_texts(leaf, "", tokenizer) for leaf in leaves])
    excluded_ids = [index.leaf_of(path) for path in excluded]
    matches = _search(change, _Side(index, np.array([i for i in excluded_ids if i is not None]), False), exhaustive)
    matches += _search(change, _Side(change, np.zeros(0, dtype=np.int64), True), exhaustive)
    return sorted(matches)


def _allowed(side: _Side, name: str) -> np.ndarray:
    index = side.index
    table = index.table(name)
    allowed = np.ones(len(table.lines), dtype=bool)
    bounds = index.leaf_contexts if name == "context" else index.leaf_seeds
    for leaf in side.excluded.tolist():
        allowed[bounds[leaf] : bounds[leaf + 1]] = False
    if name == "answer":
        allowed &= table.tokens.lengths() >= index.thresholds.answer_min_words
    return allowed


def _pairs(change: SeedIndex, side: _Side, name: str, exhaustive: bool) -> dict[tuple[int, int], float]:
    """(changed row, other row) -> score for one field, every pair at or above its threshold."""
    queries = change.table(name).tokens
    if side.inside:
        ids, ranks = queries.values.astype(np.int64), change.ranks[queries.values]
    else:
        ids, ranks = side.index.translate(change.vocab[queries.values])
    asked = np.flatnonzero(_allowed(_Side(change, np.zeros(0, dtype=np.int64), True), name))
    prefilter = None if exhaustive else Prefilter(side.index.table(name).postings, ranks)
    rows, found, scores = similar_pairs(
        Sequences.of(Ragged(queries.offsets, ids)),
        asked,
        side.index.table(name).sequences,
        _allowed(side, name),
        change.thresholds.of(name),
        prefilter,
    )
    pairs = {}
    for row, other, score in zip(rows.tolist(), found.tolist(), scores.tolist(), strict=True):
        if not side.inside or row < other:
            pairs[(row, other)] = score
    return pairs


def _ratio(a: np.ndarray, b: np.ndarray) -> float:
    return float(fuzz.ratio(a.tolist(), b.tolist()))


def _search(change: SeedIndex, side: _Side, exhaustive: bool) -> list[Match]:
    other = side.index
    found = {name: _pairs(change, side, name, exhaustive) for name in FIELDS}
    thresholds = change.thresholds
    translate = (lambda ids: ids) if side.inside else (lambda ids: other.translate(change.vocab[ids])[0])

    def text(index: SeedIndex, name: str, row: int) -> np.ndarray:
        return index.table(name).tokens.row(row)

    def place(index: SeedIndex, name: str, row: int, leaf: int) -> Place:
        return Place(index.path(leaf), int(index.table(name).lines[row]))

    def same_context(seed: int, other_seed: int) -> bool:
        mine, theirs = int(change.seed_context[seed]), int(other.seed_context[other_seed])
        if mine < 0 or theirs < 0 or (side.inside and mine == theirs):
            return True
        score = _ratio(translate(text(change, "context", mine)), text(other, "context", theirs))
        return score >= thresholds.context

    def match(kind: MatchKind, name: str, row: int, other_row: int, score: float, answer: float | None) -> Match:
        mine = change.context_leaf[row] if name == "context" else change.seed_leaf[row]
        theirs = other.context_leaf[other_row] if name == "context" else other.seed_leaf[other_row]
        return Match(
            place(change, name, row, int(mine)),
            kind,
            place(other, name, other_row, int(theirs)),
            round(score, 1),
            change.table(name).snippet(row),
            other.table(name).snippet(other_row),
            None if answer is None else round(answer, 1),
            side.inside,
        )

    matches = []
    for (seed, other_seed), score in found["question"].items():
        if not same_context(seed, other_seed):
            continue
        answer = _ratio(translate(text(change, "answer", seed)), text(other, "answer", other_seed))
        kind = MatchKind.QNA if answer >= thresholds.answer else MatchKind.QUESTION
        matches.append(match(kind, "question", seed, other_seed, score, answer))
    for (seed, other_seed), score in found["answer"].items():
        if (seed, other_seed) not in found["question"] and same_context(seed, other_seed):
            matches.append(match(MatchKind.ANSWER, "answer", seed, other_seed, score, None))
    for (row, other_row), score in found["context"].items():
        if not side.inside or change.context_leaf[row] != other.context_leaf[other_row]:
            matches.append(match(MatchKind.CONTEXT, "context", row, other_row, score, None))
    return matches


def _quote(text: str, limit: int = 80) -> str:
    return '"' + (text if len(text) <= limit else text[: limit - 1] + "…") + '"'


def describe(match: Match) -> str:
    """One sentence a contributor can act on."""
    where = f"{match.other}{' (also in this change)' if match.other_in_change else ''}"
    if match.kind is MatchKind.QNA:
        return (
            f"duplicate seed example: question {match.score:g}% and answer {match.answer_score:g}% alike "
            f"at {where}: {_quote(match.other_text)}"
        )
    if match.kind is MatchKind.QUESTION:
        return (
            f"the same question ({match.score:g}% alike) is asked at {where}, answered differently "
            f"(answers {match.answer_score:g}% alike): {_quote(match.other_text)}"
        )
    if match.kind is MatchKind.ANSWER:
        return f"the same answer ({match.score:g}% alike) is given at {where} to another question"
    return (
        f"this context is shared with {where} ({match.score:g}% alike); fine when the task differs, "
        "as when one document serves several extraction skills"
    )


SEVERITIES = {
    MatchKind.QNA: Severity.ERROR,  # a copied seed example teaches nothing new and skews the data
    MatchKind.QUESTION: Severity.WARNING,
    MatchKind.ANSWER: Severity.WARNING,
    MatchKind.CONTEXT: Severity.WARNING,
}
"""One severity per kind, for the review's findings and `taxbot similar`'s exit code alike."""


def to_findings(matches: Sequence[Match]) -> list[Finding]:
    """Findings for the pull-request review, one per match, on the changed leaf's line."""
    return [
        Finding(m.changed.path, m.changed.line, 1, SEVERITIES[m.kind], RULES[m.kind], describe(m)) for m in matches
    ]


@dataclass(frozen=True)
class SimilarSettings:
    """The `similar:` section of `.taxbot.yaml`."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    cache: str | None = None  # the index cache folder, relative to the taxonomy; default: inside its .git


_THRESHOLD_KEYS = ("question", "answer", "context")
_KEYS = (*_THRESHOLD_KEYS, "answer_min_words", "cache")


def similar_settings(
    section: dict[str, object], path: str = CONFIG_NAME, lines: Mapping[str, tuple[int, int]] | None = None
) -> tuple[SimilarSettings, list[Finding]]:
    """Settings from the config section; every problem comes back as a finding at its key's line (`lines`,
    from `Config.lines`) and the default is used."""
    problems: list[Finding] = []
    defaults = Thresholds()
    values: dict[str, float | int] = {}
    where = lines or {}

    def problem(severity: Severity, message: str, key: str) -> None:
        line, col = where.get(key, (1, 1))
        problems.append(Finding(path, line, col, severity, "config", message))

    for key, value in section.items():
        if key in _THRESHOLD_KEYS:
            if isinstance(value, int | float) and not isinstance(value, bool) and 50 <= value <= 100:
                values[key] = float(value)
            else:
                problem(
                    Severity.ERROR,
                    f"`similar.{key}` must be a score from 50 to 100 (rapidfuzz ratio over words), "
                    f"found {value!r}; using {defaults.of(key):g}",
                    key,
                )
        elif key == "answer_min_words":
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                values[key] = value
            else:
                problem(
                    Severity.ERROR,
                    f"`similar.answer_min_words` must be a whole number of at least 1, found {value!r}; "
                    f"using {defaults.answer_min_words}",
                    key,
                )
        elif key != "cache":
            problem(Severity.WARNING, f"unknown key `similar.{key}` is ignored; known: {', '.join(_KEYS)}", key)
    cache = section.get("cache")
    if cache is not None and not isinstance(cache, str):
        problem(Severity.ERROR, f"`similar.cache` must be a folder path, found {cache!r}; using the default", "cache")
        cache = None
    return SimilarSettings(Thresholds(**values), cache), problems
