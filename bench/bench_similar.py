"""Benchmark of `taxbot similar`: a 10-leaf change against synthetic trees of 1k, 10k and 100k leaves.

Run by hand from the repository root (needs ../shared/data; writes under bench/out/, which git ignores):

    python bench/bench_similar.py                      # 1k, 10k and 100k leaves
    python bench/bench_similar.py --sizes 1000 10000   # a quicker run

Trees are made from the real 2024-08 snapshot: each synthetic leaf recombines questions, answers and
contexts of random real leaves and perturbs a quarter of their words, so no two are trivially alike.
The change adds and modifies 10 leaves with planted near-duplicates (copied seed examples with a word
changed, a repeated question, a reused context, a duplicate inside the change). For each size it times
the review cold (index built from the commit), incrementally (built from the previous commit's index),
and warm (index loaded from the cache), against brute force in the same run: the same search with
every pair scored, whose matches must be the same, and rapidfuzz's cdist over every pair alone.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import git
import numpy as np
from rapidfuzz import fuzz, process

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from bot.similar.duplicates import Match, MatchKind, find_duplicates  # noqa: E402
from bot.similar.indexcache import IndexStats, commit_index  # noqa: E402
from bot.similar.seedindex import FIELDS, SeedIndex, Thresholds, Tokenizer, build_index, leaf_texts  # noqa: E402
from bot.taxonomy.tree import load_directory, parse_leaf  # noqa: E402

SNAPSHOT = REPO_ROOT.parent / "shared" / "data" / "taxonomy-2024-08"
PERTURB = 0.25  # share of words replaced in every synthetic text
TOPS = ("compositional_skills", "knowledge", "foundational_skills")


@dataclass
class Seed:
    question: str
    answer: str
    context: str | None


class Source:
    """The real snapshot, cut into material: questions, answers, contexts, and a word stream."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        leaves = load_directory(root).leaves.values()
        seeds = [s for leaf in leaves for s in leaf.seed_examples]
        self.questions = [" ".join(s.question.split()) for s in seeds]
        self.answers = [" ".join(s.answer.split()) for s in seeds]
        self.contexts = sorted({" ".join(s.context.split()) for s in seeds if s.context})
        self.words = [w for text in self.questions + self.answers for w in text.split()]
        self.branches = sorted({part for leaf in leaves for part in leaf.path.split("/")[1:-1]})
        # Made-up names and numbers, so that the vocabulary grows with the tree as a real one does.
        self.coined = [f"{rng.choice(self.branches)[:4]}{rng.randrange(10**6)}" for _ in range(200_000)]
        self.rng = rng

    def perturb(self, text: str, share: float = PERTURB) -> str:
        """`text` with a `share` of its words (at least one) replaced, and a few dropped or added."""
        rng = self.rng
        words = text.split()
        for at in rng.sample(range(len(words)), max(1, round(share * len(words)))):
            words[at] = rng.choice(self.coined) if rng.random() < 0.3 else rng.choice(self.words)
        for _ in range(rng.randint(0, max(1, len(words) // 20))):
            if rng.random() < 0.5 and len(words) > 1:
                del words[rng.randrange(len(words))]
            else:
                words.insert(rng.randrange(len(words) + 1), rng.choice(self.words))
        return " ".join(words)

    def leaf(self) -> tuple[str, list[Seed]]:
        rng = self.rng
        context = self.perturb(rng.choice(self.contexts), 0.4) if rng.random() < 0.3 else None
        seeds = [
            Seed(self.perturb(rng.choice(self.questions)), self.perturb(rng.choice(self.answers)), context)
            for _ in range(rng.randint(5, 15))
        ]
        return self.perturb(rng.choice(self.questions)), seeds


def leaf_yaml(task: str, seeds: list[Seed]) -> bytes:
    out = [f"version: 3\ncreated_by: bench\ntask_description: |-\n  {task}\nseed_examples:\n"]
    for seed in seeds:
        keys = [("context", seed.context)] if seed.context else []
        for j, (key, text) in enumerate([*keys, ("question", seed.question), ("answer", seed.answer)]):
            out.append(f"{'  - ' if j == 0 else '    '}{key}: |-\n      {text}\n")
    return "".join(out).encode()


def leaf_path(source: Source, i: int) -> str:
    rng = source.rng
    parts = [rng.choice(TOPS), *rng.sample(source.branches, 2), f"leaf_{i:06d}"]
    return "/".join(parts) + "/qna.yaml"


@dataclass
class Change:
    files: dict[str, bytes]
    planted: dict[str, int]


def make_change(source: Source, sample: dict[str, tuple[str, list[Seed]]]) -> Change:
    """10 leaves: 2 modified, 8 added, with near-duplicates planted against the tree and inside the change."""
    rng = source.rng
    long_seeds = [(p, s) for p, (_, seeds) in sample.items() for s in seeds if len(s.question.split()) >= 20]
    grounded = [seeds for _, seeds in sample.values() if seeds[0].context]

    def one_word_changed(text: str) -> str:
        words = text.split()
        words[rng.randrange(len(words))] = rng.choice(source.words)
        return " ".join(words)

    files: dict[str, bytes] = {}
    planted = {"qna": 0, "question": 0, "context": 0, "inside": 0}
    fresh = [source.leaf() for _ in range(8)]
    for _, seeds in fresh[:3]:  # copied seed examples with one word changed, and a repeated question
        for _, seed in rng.sample(long_seeds, 2):
            seeds.append(Seed(one_word_changed(seed.question), seed.answer, seed.context))
            planted["qna"] += 1
        seeds.append(Seed(rng.choice(long_seeds)[1].question, source.perturb(rng.choice(source.answers)), None))
        planted["question"] += 1
    reused = rng.choice(grounded)[0].context
    fresh[3] = (fresh[3][0], [Seed(s.question, s.answer, reused) for s in fresh[3][1]])
    planted["context"] += 1
    fresh[4][1].append(fresh[5][1][0])
    planted["inside"] += 1
    for i, (task, seeds) in enumerate(fresh):
        files[leaf_path(source, 900_000 + i)] = leaf_yaml(task, seeds)
    for path in rng.sample(sorted(sample), 2):
        task, seeds = sample[path]
        extra = rng.choice(long_seeds)[1]
        files[path] = leaf_yaml(task, [*seeds, source.leaf()[1][0], extra])
        planted["qna"] += 1
    return Change(files, planted)


def fast_import(repo_dir: Path, commits: list[tuple[str, Iterator[tuple[str, bytes]]]]) -> list[str]:
    """Write commits straight into the object store with `git fast-import`; no work tree is checked out."""
    git.Repo.init(repo_dir, initial_branch="main")
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo_dir, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    mark = 0
    for message, files in commits:
        paths = []
        for path, data in files:
            mark += 1
            proc.stdin.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
            paths.append((path, mark))
        mark += 1
        header = f"commit refs/heads/main\nmark :{mark}\ncommitter bench <bench@taxbot.invalid> 1700000000 +0000\n"
        proc.stdin.write(f"{header}data {len(message)}\n{message}\n".encode())
        proc.stdin.write("".join(f"M 100644 :{m} {p}\n" for p, m in paths).encode() + b"\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    repo = git.Repo(repo_dir)
    return [repo.commit("main~1").hexsha, repo.commit("main").hexsha]


def build_tree(size: int, out: Path, seed: int = 20240820) -> tuple[Path, str, str, list[str], float]:
    """A synthetic tree of `size` leaves as a base commit, and the 10-leaf change as the next one."""
    folder = out / "trees" / str(size)
    marker = folder / "bench-tree.json"
    if marker.is_file():
        record = json.loads(marker.read_text())
        return folder, record["base"], record["head"], record["changed"], record["seconds"]
    shutil.rmtree(folder, ignore_errors=True)
    started = time.perf_counter()
    source = Source(SNAPSHOT, random.Random(seed + size))
    sample: dict[str, tuple[str, list[Seed]]] = {}

    def base_files() -> Iterator[tuple[str, bytes]]:
        for i in range(size):
            path, (task, seeds) = leaf_path(source, i), source.leaf()
            if i % max(size // 40, 1) == 0:
                sample[path] = (task, seeds)
            yield path, leaf_yaml(task, seeds)

    holder: list[Change] = []

    def change_files() -> Iterator[tuple[str, bytes]]:
        holder.append(make_change(source, sample))
        yield from holder[0].files.items()

    base, head = fast_import(folder, [("base", base_files()), ("a 10-leaf change", change_files())])
    seconds = time.perf_counter() - started
    changed = sorted(holder[0].files)
    marker.write_text(json.dumps({"base": base, "head": head, "changed": changed, "seconds": seconds}))
    print(f"  planted: {holder[0].planted}")
    return folder, base, head, changed, seconds


def _strings(ids: np.ndarray, offsets: np.ndarray) -> list[str]:
    """Token rows as strings of code points, one per token id: the fastest input rapidfuzz takes."""
    ids = np.asarray(ids, dtype=np.int64)
    ids = np.where(ids >= 0xD800, ids + 0x800, ids)  # skip the surrogate range, which is no valid text
    text = ids.astype("<u4").tobytes().decode("utf-32-le")
    bounds = np.asarray(offsets).tolist()
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def cdist_alone(index: SeedIndex, change: SeedIndex) -> tuple[float, int]:
    """Seconds for rapidfuzz's cdist alone to score every (changed text, tree text) pair of every field."""
    seconds, pairs = 0.0, 0
    for name in FIELDS:
        tree, asked = index.table(name).tokens, change.table(name).tokens
        choices = _strings(tree.values, tree.offsets)
        queries = _strings(index.translate(change.vocab[asked.values])[0], asked.offsets)
        started = time.perf_counter()
        cutoff = index.thresholds.of(name)
        process.cdist(queries, choices, scorer=fuzz.ratio, score_cutoff=cutoff, workers=-1, dtype=np.uint8)
        seconds += time.perf_counter() - started
        pairs += len(queries) * len(choices)
    return seconds, pairs


@dataclass
class Row:
    leaves: int
    seed_examples: int
    tree_seconds: float
    cold_seconds: float
    incremental_seconds: float
    warm_seconds: float
    brute_seconds: float
    cdist_seconds: float
    cdist_pairs: int
    diff_and_cli_seconds: float
    matches: int
    same_matches: bool
    kinds: dict[str, int]


def measure(size: int, out: Path) -> Row:
    print(f"{size} leaves: building the tree ...", flush=True)
    folder, base, head, changed, tree_seconds = build_tree(size, out)
    repo = git.Repo(folder)
    blobs = {p: repo.commit(head).tree[p].data_stream.read() for p in changed}
    leaves = [parse_leaf(p, data) for p, data in blobs.items()]
    thresholds = Thresholds()
    cache = folder / "bench-cache"

    def review(commit: str) -> tuple[list[Match], IndexStats]:
        index, stats = commit_index(repo, commit, "", thresholds, cache)
        return find_duplicates(index, leaves, changed), stats

    shutil.rmtree(cache, ignore_errors=True)
    print("  cold ...", flush=True)
    started = time.perf_counter()
    matches, stats = review(base)
    cold = time.perf_counter() - started
    print(f"  cold {cold:.1f} s ({stats})", flush=True)
    started = time.perf_counter()
    commit_index(repo, head, "", thresholds, cache)
    incremental = time.perf_counter() - started
    print(f"  incremental {incremental:.1f} s", flush=True)

    warm_runs = []
    for _ in range(5):
        started = time.perf_counter()
        again, stats = review(base)
        warm_runs.append(time.perf_counter() - started)
        assert stats.loaded and again == matches
    warm = statistics.median(warm_runs)
    print(f"  warm {warm:.3f} s", flush=True)

    index, _ = commit_index(repo, base, "", thresholds, cache)
    started = time.perf_counter()
    brute = find_duplicates(index, leaves, changed, exhaustive=True)
    brute_seconds = time.perf_counter() - started
    print(f"  brute force {brute_seconds:.1f} s, same matches: {brute == matches}", flush=True)
    tokenizer = Tokenizer()
    change = build_index(thresholds, tokenizer, [leaf_texts(leaf, "", tokenizer) for leaf in leaves])
    cdist_seconds, cdist_pairs = cdist_alone(index, change)
    print(f"  cdist alone {cdist_seconds:.1f} s for {cdist_pairs:,} pairs", flush=True)

    started = time.perf_counter()
    command = ["similar", "--taxonomy", str(folder), "--base", base, "--head", head, "--cache", str(cache)]
    cli = subprocess.run(
        [sys.executable, "-m", "bot", *command, "--format", "json"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    cli_seconds = time.perf_counter() - started
    assert json.loads(cli.stdout)["index"]["loaded"], cli.stderr
    kinds = {str(k): sum(m.kind is k for m in matches) for k in MatchKind}
    seeds = int(index.leaf_seeds[-1])
    return Row(
        size,
        seeds,
        tree_seconds,
        cold,
        incremental,
        warm,
        brute_seconds,
        cdist_seconds,
        cdist_pairs,
        cli_seconds,
        len(matches),
        brute == matches,
        kinds,
    )


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [r.leaves for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.loglog(x, [r.brute_seconds for r in rows], "o-", label="brute force: every pair, same matches")
    ax.loglog(x, [r.cdist_seconds for r in rows], "o--", label="rapidfuzz cdist alone, every pair")
    ax.loglog(x, [r.cold_seconds for r in rows], "s-", label="cold: index built from the commit")
    ax.loglog(x, [r.incremental_seconds for r in rows], "s--", label="incremental: index from the previous one")
    ax.loglog(x, [r.warm_seconds for r in rows], "^-", label="warm: index from the cache")
    ax.loglog(
        x, [r.warm_seconds * r.leaves / x[0] for r in rows], ":", color="grey", label="linear from the first warm"
    )
    ax.set_xlabel("leaves in the tree")
    ax.set_ylabel("seconds for a 10-leaf change (2 cores)")
    ax.set_title("taxbot similar: cost against tree size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 100_000])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = [measure(size, args.out) for size in args.sizes]
    (args.out / "similar.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    plot(rows, args.out / "similar_cost.png")
    header = ["leaves", "seed examples", "tree s", "cold s", "incremental s", "warm s", "brute force s"]
    header += ["cdist alone s", "x faster (vs cdist)", "same matches", "taxbot similar s"]
    print("\n| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for r in rows:
        cells = [f"{r.leaves:,}", f"{r.seed_examples:,}", f"{r.tree_seconds:.1f}", f"{r.cold_seconds:.1f}"]
        cells += [f"{r.incremental_seconds:.1f}", f"{r.warm_seconds:.3f}", f"{r.brute_seconds:.1f}"]
        cells += [
            f"{r.cdist_seconds:.1f}",
            f"{r.brute_seconds / r.warm_seconds:.0f} ({r.cdist_seconds / r.warm_seconds:.0f})",
        ]
        cells += [str(r.same_matches), f"{r.diff_and_cli_seconds:.1f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nmatches: {[r.kinds for r in rows]}; plot: {args.out / 'similar_cost.png'}")


if __name__ == "__main__":
    main()
