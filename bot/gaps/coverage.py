"""`gaps`: where the tree is thin, empty or short of examples, and where a change lands in it."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from rapidfuzz import fuzz, process

from bot.similar.seedindex import words
from bot.taxonomy.config import CONFIG_NAME
from bot.taxonomy.diff import ChangeSet, ChangeStatus
from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.tree import Leaf, Taxonomy

PLACEHOLDERS = frozenset({".gitignore", ".gitkeep", ".keep"})
NEIGHBOURS = 3


@dataclass(frozen=True)
class GapsSettings:
    """The `gaps:` section of `.taxbot.yaml`."""

    min_examples: int = 5  # the schema's minimum since version 2, for skills and knowledge alike
    student_pass: float = 60.0  # share (0-100) of a seed answer's own words a student reply must contain


def gaps_settings(
    section: dict[str, object], path: str = CONFIG_NAME, lines: Mapping[str, tuple[int, int]] | None = None
) -> tuple[GapsSettings, list[Finding]]:
    """Settings from the config section; every problem is a finding at its key's line (`lines`, from
    `Config.lines`), and the default is kept."""
    defaults, values, problems = GapsSettings(), {}, []
    where = lines or {}
    bounds = {"min_examples": (int, 1, 1000), "student_pass": (float, 0, 100)}
    for key, value in section.items():
        if key not in bounds:
            message = f"unknown key `gaps.{key}` is ignored; known: {', '.join(bounds)}"
            problems.append(Finding(path, *where.get(key, (1, 1)), Severity.WARNING, "config", message))
            continue
        kind, low, high = bounds[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and (kind is float or isinstance(value, int)) and low <= value <= high:  # type: ignore[operator]
            values[key] = kind(value)  # type: ignore[arg-type]
        else:
            message = (
                f"`gaps.{key}` must be a {'whole ' if kind is int else ''}number from {low} to {high}, "
                f"found {value!r}; using {getattr(defaults, key)}"
            )
            problems.append(Finding(path, *where.get(key, (1, 1)), Severity.ERROR, "config", message))
    return GapsSettings(**values), problems  # type: ignore[arg-type]


@dataclass(frozen=True)
class Coverage:
    """What a branch (a folder above leaves) holds."""

    branch: str
    leaves: int
    seed_examples: int
    words: int


@dataclass(frozen=True)
class ShortLeaf:
    path: str
    version: int
    examples: int


@dataclass(frozen=True)
class TreeGaps:
    coverage: list[Coverage]
    empty_branches: dict[str, int]  # topmost folders with placeholders but no leaf -> empty folders inside
    short_leaves: list[ShortLeaf]
    minimum: int


def examples(leaf: Leaf) -> int:
    """Seed examples as the schema counts them: entries of `seed_examples` (a knowledge context with its Q&A is one)."""
    seeds = leaf.data.get("seed_examples")
    return len(seeds) if isinstance(seeds, list) else 0


def leaf_words(leaf: Leaf) -> int:
    contexts = {s.context for s in leaf.seed_examples if s.context}
    texts = [t for s in leaf.seed_examples for t in (s.question, s.answer)] + sorted(contexts)
    return sum(len(t.split()) for t in texts)


def _branches(leaf_path: str) -> list[str]:
    """The folders above a leaf's own folder, top first."""
    parts = PurePosixPath(leaf_path).parts[:-2]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def tree_gaps(taxonomy: Taxonomy, minimum: int) -> TreeGaps:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for leaf in taxonomy.leaves.values():
        counts = (1, examples(leaf), leaf_words(leaf))
        for branch in _branches(leaf.path):
            totals[branch] = [a + b for a, b in zip(totals[branch], counts, strict=True)]
    coverage = [Coverage(b, *totals[b]) for b in sorted(totals)]

    # A branch is empty when everything beneath it is a placeholder: no leaf, no other file.
    placeholders_only: dict[str, bool] = {}
    for path in taxonomy.files:
        placeholder = PurePosixPath(path).name in PLACEHOLDERS
        for parent in PurePosixPath(path).parents:
            folder = parent.as_posix()
            placeholders_only[folder] = placeholders_only.get(folder, True) and placeholder
    empty_branches: dict[str, int] = {}
    for folder in sorted(f for f, only in placeholders_only.items() if only and f != "."):
        # sorted, so an empty branch comes before the empty folders inside it
        top = next((t for t in empty_branches if folder.startswith(t + "/")), None)
        if top is None:
            empty_branches[folder] = 0
        else:
            empty_branches[top] += 1

    short = [
        ShortLeaf(leaf.path, leaf.version, examples(leaf))
        for leaf in sorted(taxonomy.leaves.values(), key=lambda x: x.path)
        if examples(leaf) < minimum
    ]
    return TreeGaps(coverage, empty_branches, short, minimum)


@dataclass(frozen=True)
class Neighbour:
    path: str
    score: float


@dataclass(frozen=True)
class Landing:
    """Where a changed leaf sits in the tree before the change, and what it resembles there."""

    path: str
    branch: str  # the folder its own folder is in
    new_folders: str | None  # the first folder the change creates above the leaf, if any
    siblings: list[str]  # leaves already in `branch`
    by_path: list[Neighbour]
    by_content: list[Neighbour]
    elsewhere: str | None  # where its nearest leaves by content are, when none is near it: likely misplaced
    placed: bool = True  # added or moved by the change: its place is the change's choice, so it gets advice


def _elsewhere(path: str, near: list[Neighbour], areas: set[str]) -> str | None:
    """The part of the tree a leaf's content neighbours share when the leaf is not in it.

    In an area that has leaves (compositional_skills/extraction), a leaf none of whose neighbours is
    there looks misplaced; a leaf that opens a new area is only judged by its top folder (a skill
    under knowledge/), since a new domain has no neighbours of its own yet.
    """
    near = [n for n in near if n.score > 0 and n.score >= near[0].score / 2]  # the clearly near ones
    if not near:
        return None
    depth = 2 if _area(path) in areas else 1
    mine = "/".join(PurePosixPath(path).parts[:depth])
    theirs = ["/".join(PurePosixPath(n.path).parts[:depth]) for n in near]
    return None if mine in theirs else Counter(theirs).most_common(1)[0][0]


def _area(path: str) -> str:
    """The top two folders: the part of the tree a leaf is about (compositional_skills/extraction)."""
    return "/".join(PurePosixPath(path).parts[:2])


def _path_words(path: str) -> str:
    return " ".join(PurePosixPath(path).parent.as_posix().replace("_", " ").replace("-", " ").split("/"))


@dataclass
class _ContentVectors:
    """TF-IDF vectors of leaves' task, questions and answers, for cosine similarity."""

    idf: dict[str, float]
    vectors: dict[str, dict[str, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, leaves: Iterable[Leaf]) -> _ContentVectors:
        bags = {leaf.path: _bag(leaf) for leaf in leaves}
        df = Counter(word for bag in bags.values() for word in bag)
        idf = {word: math.log((1 + len(bags)) / (1 + n)) + 1 for word, n in df.items()}
        model = cls(idf)
        model.vectors = {path: model.vector(bag) for path, bag in bags.items()}
        return model

    def vector(self, bag: Counter[str]) -> dict[str, float]:
        weights = {w: n * self.idf.get(w, math.log(1 + len(self.vectors) + 1) + 1) for w, n in bag.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        return {w: v / norm for w, v in weights.items()}

    def nearest(self, leaf: Leaf, limit: int) -> list[Neighbour]:
        mine = self.vector(_bag(leaf))
        scores = [
            (sum(weight * other.get(w, 0.0) for w, weight in mine.items()), path)
            for path, other in self.vectors.items()
        ]
        return [
            Neighbour(path, round(100 * score, 1))
            for score, path in sorted(scores, key=lambda s: (-s[0], s[1]))[:limit]
        ]


def _bag(leaf: Leaf) -> Counter[str]:
    texts = [leaf.task] + [t for s in leaf.seed_examples for t in (s.question, s.answer)]
    return Counter(w for text in texts for w in words(text) if w.isalnum() and len(w) > 1)


def placed_paths(change_set: ChangeSet) -> set[str]:
    """The leaves a change adds or moves: the ones whose place in the tree the change decides."""
    return {c.path for c in change_set.changes if c.status in (ChangeStatus.ADDED, ChangeStatus.RENAMED)}


def landings(
    taxonomy: Taxonomy, changed: Sequence[Leaf], excluded: Iterable[str] = (), placed: Collection[str] | None = None
) -> list[Landing]:
    """Where each changed leaf lands in `taxonomy` (the tree before the change), leaving out `excluded` paths.

    `placed` names the leaves the change adds or moves (default: all); only those get placement advice
    (a new branch, "misplaced?"): a leaf edited where it already was did not choose its place in this change.
    """
    gone = set(excluded)
    existing = {p: leaf for p, leaf in taxonomy.leaves.items() if p not in gone}
    folders = {parent.as_posix() for f in taxonomy.files for parent in PurePosixPath(f).parents}
    content = _ContentVectors.of(existing.values())
    paths = sorted(existing)
    areas = {_area(p) for p in paths}
    path_choices = [_path_words(p) for p in paths]
    out = []
    for leaf in changed:
        branch = PurePosixPath(leaf.path).parent.parent.as_posix()
        chain = [*reversed(_branches(leaf.path))]  # nearest first
        missing = [b for b in chain if b not in folders]
        by_path = process.extract(_path_words(leaf.path), path_choices, scorer=fuzz.token_sort_ratio, limit=NEIGHBOURS)
        by_content = content.nearest(leaf, NEIGHBOURS)
        is_placed = placed is None or leaf.path in placed
        out.append(
            Landing(
                leaf.path,
                branch,
                missing[-1] if missing and is_placed else None,
                [p for p in paths if PurePosixPath(p).parent.parent.as_posix() == branch],
                [Neighbour(paths[i], round(score, 1)) for _, score, i in by_path],
                by_content,
                _elsewhere(leaf.path, by_content, areas) if is_placed else None,
                is_placed,
            )
        )
    return out
